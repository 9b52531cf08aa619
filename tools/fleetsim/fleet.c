/*
 * The simulated fleet (fleetsim.h): one directory per device with its key,
 * its certificate, its agent configuration, its A/B slot files and its
 * state, and the fate the seeded failure model gives it.
 *
 * Certificates are issued in bulk with libbulwark (bw_pki_device_cert_issue,
 * the same issuance the registration service and `bulwark keys ca sign`
 * use) from a CSR made with each device's own key; the gateway binds each
 * one on the device's first connection, as it does for any certificate of
 * a device CA it trusts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent.h"
#include "bulwark/buf.h"
#include "bulwark/identity.h"
#include "bulwark/pki.h"
#include "bulwark/tuf.h"
#include "fleetsim.h"

/* splitmix64: a small seeded generator, so a seed names one fleet. */
uint64_t fs_mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 10^6). */
static uint32_t draw_ppm(uint64_t *s)
{
	return (uint32_t)(fs_mix(s) % 1000000u);
}

static void make_uuid(uint64_t *s, char out[37])
{
	uint8_t b[16];
	uint64_t a = fs_mix(s), c = fs_mix(s);
	char hex[33];

	memcpy(b, &a, 8);
	memcpy(b + 8, &c, 8);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	bw_hex_encode(b, 16, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
}

static void draw_fate(const struct fs_opts *o, uint64_t *s,
		      struct fs_device *dv)
{
	uint32_t u = draw_ppm(s), edge = o->install_error_ppm;

	if (u < edge)
		dv->fate = FS_FATE_INSTALL_ERROR;
	else if (u < (edge += o->boot_fallback_ppm))
		dv->fate = FS_FATE_BOOT_FALLBACK;
	else if (u < (edge += o->silent_ppm))
		dv->fate = FS_FATE_SILENT;
	else
		dv->fate = FS_FATE_OK;
	/* slow downloads: from half to one and a half times slow_s */
	if (draw_ppm(s) < o->slow_ppm)
		dv->slow_s = o->slow_s * (0.5 + draw_ppm(s) / 1e6);
	dv->rng = fs_mix(s);
}

/* The device CA's OU: the factory every device certificate names. */
static int factory_of(X509 *ca, char *out, size_t cap, struct bw_err *err)
{
	X509_NAME *n = X509_get_subject_name(ca);
	int i = X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, -1);
	unsigned char *u = NULL;
	int len;

	if (i < 0)
		return bw_err_set(err, BW_EFORMAT, "device CA has no OU");
	len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(
					      X509_NAME_get_entry(n, i)));
	if (len <= 0 || (size_t)len >= cap) {
		OPENSSL_free(u);
		return bw_err_set(err, BW_EFORMAT, "device CA OU unusable");
	}
	memcpy(out, u, (size_t)len);
	out[len] = '\0';
	OPENSSL_free(u);
	return 0;
}

static int write_text(const char *dir, const char *name, const char *text,
		      size_t len, mode_t mode, struct bw_err *err)
{
	char *p = NULL;
	int rc;

	if (bw_path_join(dir, name, &p) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_io_write_atomic(p, text, len, mode, err);
	free(p);
	return rc;
}

/* Key and certificate of one device, written into its directory. */
static int issue(X509 *ca, EVP_PKEY *ca_key, const char *factory,
		 struct fs_device *dv, struct bw_err *err)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = X509_REQ_new();
	X509_NAME *subj = NULL;
	X509 *cert = NULL;
	char *pem = NULL;
	size_t len = 0;
	int rc = bw_pki_key_generate(&key, err);

	if (!rc && !req)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	if (!rc)
		rc = bw_identity_subject_build(dv->uuid, factory, 1, &subj, err);
	if (!rc && (X509_REQ_set_subject_name(req, subj) != 1 ||
		    X509_REQ_set_pubkey(req, key) != 1 ||
		    X509_REQ_sign(req, key, EVP_sha256()) <= 0))
		rc = bw_err_set(err, BW_ECRYPTO, "CSR for %s", dv->uuid);
	if (!rc)
		rc = bw_pki_device_cert_issue(ca, ca_key, req, factory, 1,
					      BW_PKI_DEVICE_DAYS, time(NULL),
					      &cert, err);
	if (!rc)
		rc = bw_pki_key_pem(key, &pem, &len, err);
	if (!rc)
		rc = write_text(dv->dir, "key.pem", pem, len, 0600, err);
	if (pem) {
		OPENSSL_cleanse(pem, len);
		free(pem);
		pem = NULL;
	}
	if (!rc)
		rc = bw_pki_cert_pem(cert, &pem, &len, err);
	if (!rc)
		rc = write_text(dv->dir, "cert.pem", pem, len, 0644, err);
	free(pem);
	X509_free(cert);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return rc;
}

/* The agent's configuration: key file, simulated bootloader, A/B slots.
 * A device fated to fail its installation gets a slot B it can not
 * write (a directory where the slot file should be). */
static int configure(const struct fs_opts *o, struct fs_device *dv,
		     struct bw_err *err)
{
	char text[4096], slot_a[1024], slot_b[1024];
	int n;

	snprintf(slot_a, sizeof(slot_a), "%s/slot-a.img", dv->dir);
	snprintf(slot_b, sizeof(slot_b), "%s/slot-b.img", dv->dir);
	if (write_text(dv->dir, "slot-a.img", "factory image\n", 14, 0644,
		       err) != 0)
		return err->code;
	if (dv->fate == FS_FATE_INSTALL_ERROR && mkdir(slot_b, 0755) != 0 &&
	    errno != EEXIST)
		return bw_err_set(err, BW_EIO, "%s: %s", slot_b,
				  strerror(errno));
	n = snprintf(text, sizeof(text),
		     "[server]\nurl = %s\n"
		     "[tls]\nca_file = %s\ncert_file = %s/cert.pem\n"
		     "key_file = %s/key.pem\n"
		     "[device]\nstate_dir = %s/state\nhardware_id = %s\n"
		     "tag = %s\n"
		     "[update]\nslot_a = %s\nslot_b = %s\nboot_attempts = %ld\n"
		     "interval = %ld\njitter = 0\nlow_speed_time = 30\n"
		     "[boot]\nbootloader = simulated\n",
		     o->server_url, o->ca_file, dv->dir, dv->dir, dv->dir,
		     o->hardware_id, o->tag, slot_a, slot_b, o->boot_attempts,
		     (long)(o->poll_s < 1 ? 1 : o->poll_s));
	if (n < 0 || (size_t)n >= sizeof(text))
		return bw_err_set(err, BW_ETOOBIG, "configuration too long");
	return write_text(dv->dir, "device.ini", text, (size_t)n, 0644, err);
}

/* Open the agent once to make its state and trust the factory's root
 * (what `bulwark-device provision --root` does at manufacturing). */
static int provision(struct fs_device *dv, const struct bw_buf *root,
		     struct bw_err *err)
{
	struct bw_dev *d = NULL;
	int rc = bw_dev_open(dv->config, BW_DEV_OPEN_EXCLUSIVE, &d, err);

	if (!rc)
		rc = bw_tuf_trust_root(d->mdir, root->data, root->len, err);
	bw_dev_free(d);
	return rc;
}

static int make_one(struct fs_fleet *f, X509 *ca, EVP_PKEY *ca_key,
		    const char *factory, const struct bw_buf *root,
		    uint64_t *s, size_t i, struct bw_err *err)
{
	const struct fs_opts *o = f->o;
	struct fs_device *dv = &f->devs[i];
	char name[32];
	int rc;

	dv->idx = (int)i;
	dv->process = (long)i < o->processes;
	make_uuid(s, dv->uuid);
	draw_fate(o, s, dv);
	snprintf(name, sizeof(name), "dev%05zu", i);
	if (bw_path_join(o->workdir, name, &dv->dir) != 0 ||
	    bw_path_join(dv->dir, "device.ini", &dv->config) != 0)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	rc = bw_io_mkdirs(dv->dir, 0700, err);
	if (!rc)
		rc = issue(ca, ca_key, factory, dv, err);
	if (!rc)
		rc = configure(o, dv, err);
	if (!rc)
		rc = provision(dv, root, err);
	return rc;
}

int fs_fleet_make(struct fs_fleet *f, struct bw_err *err)
{
	const struct fs_opts *o = f->o;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	char factory[BW_PKI_FACTORY_MAX + 1];
	struct bw_buf root;
	uint64_t s = (uint64_t)o->seed * 0x2545f4914f6cdd1dull + 1;
	int rc;

	bw_buf_init(&root, 512u * 1024u);
	f->n = (size_t)o->devices;
	f->devs = calloc(f->n, sizeof(*f->devs));
	f->lat = calloc(FS_MAX_SAMPLES, sizeof(*f->lat));
	if (!f->devs || !f->lat)
		rc = bw_err_set(err, BW_ENOMEM, "out of memory");
	else
		rc = bw_pki_cert_load(o->device_ca, &ca, err);
	if (!rc)
		rc = bw_pki_key_load(o->device_ca_key, &ca_key, err);
	if (!rc)
		rc = factory_of(ca, factory, sizeof(factory), err);
	if (!rc)
		rc = bw_io_read_file(o->root_file, root.max, &root, err);
	if (!rc)
		rc = bw_io_mkdirs(o->workdir, 0700, err);
	for (size_t i = 0; !rc && i < f->n; i++)
		rc = make_one(f, ca, ca_key, factory, &root, &s, i, err);
	bw_buf_dispose(&root);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}

void fs_fleet_dispose(struct fs_fleet *f)
{
	for (size_t i = 0; f->devs && i < f->n; i++) {
		bw_dev_free(f->devs[i].d);
		free(f->devs[i].dir);
		free(f->devs[i].config);
	}
	free(f->devs);
	free(f->lat);
	f->devs = NULL;
	f->lat = NULL;
}
