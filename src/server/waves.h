/*
 * Production waves in bulwarkd (waves.c): the charter an operator uploads
 * (signed offline, include/bulwark/wave.h), the devices the gateway admits
 * step by step, their outcomes, and the health rule that advances or halts
 * the wave by itself.
 */
#ifndef BW_SRV_WAVES_H
#define BW_SRV_WAVES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bulwark/error.h"

struct bw_srv;
struct bw_srv_identity;
struct bw_device_rec;
struct evhttp_request;
struct evkeyvalq;

/* Gateway GET /wave: {"charter", "state", "step"} for the active wave of
 * the device's tag; step is the step the server grants this device (-1
 * while it is not admitted). 404 when the tag has no running or paused
 * wave, and for CI devices. */
void bw_srv_waves_serve(struct bw_srv *srv, struct evhttp_request *req,
			const struct bw_srv_identity *id,
			const struct bw_device_rec *dev, const char *tag);

/* 1 if the device is admitted to the running or paused wave of tag and
 * that wave's charter lists the target name (the gateway serves it the
 * file then, beside those its own targets metadata lists). */
int bw_srv_waves_target_allowed(struct bw_srv *srv,
				const struct bw_srv_identity *id,
				const char *tag, const char *name);

/* After a device's events were stored: its outcome in the active wave of
 * tag (installation completed / failed / rolled back), then an immediate
 * evaluation of that wave. Never fails the request. */
void bw_srv_waves_note_events(struct bw_srv *srv, const char *uuid,
			      const char *tag, const uint8_t *body,
			      size_t len);

/* Evaluate every running wave (the periodic timer). */
void bw_srv_waves_tick(struct bw_srv *srv);

/* Admin API under /waves: rest is what follows "/waves" ("" or "/NAME"
 * or "/NAME/ACTION"); who names the caller in the log. */
void bw_srv_waves_admin(struct bw_srv *srv, struct evhttp_request *req,
			const char *rest, const char *who);

/* GET /waves/NAME: the wave's state, per-step counts, the health rule's
 * verdict and its log (*out new reference). BW_ENOTFOUND. */
int bw_srv_waves_status(struct bw_srv *srv, const char *name, json_t **out,
			struct bw_err *err);

/* POST /waves/NAME/ACTION (pause, resume, halt, cancel, complete) in one
 * transaction with its log entry. BW_EEXIST when the wave's state does
 * not allow it, BW_ENOTFOUND for an unknown wave or action. */
int bw_srv_waves_command(struct bw_srv *srv, const char *name,
			 const char *action, const char *who,
			 struct bw_err *err);

#endif
