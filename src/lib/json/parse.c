/*
 * Strict JSON parsing (include/bulwark/json.h).
 *
 * jansson does the lexing and most of the policy: JSON_REJECT_DUPLICATES
 * for duplicate keys at any depth, its default EOF check for trailing data,
 * no JSON_ALLOW_NUL so "\u0000" is refused, UTF-8 validation, int64 range.
 * On top of it we cap the input size before parsing and walk the tree
 * (iteratively, so untrusted nesting never costs C stack) for depth and
 * reals.
 */
#include <stdlib.h>
#include <string.h>

#include "bulwark/json.h"
#include "json_priv.h"

/* One open array or object during the walk. */
struct walk_frame {
	json_t *v;
	void *iter;  /* object: next member */
	size_t next; /* array: next index */
};

/* jansson's message, with anything unprintable (it may quote input) masked. */
static void copy_printable(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < dstlen && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

static int map_jansson_error(const json_error_t *jerr, struct bw_err *err)
{
	char text[JSON_ERROR_TEXT_LENGTH];
	const char *what = "invalid JSON";
	int code = BW_EFORMAT;

	copy_printable(text, sizeof(text), jerr->text);
	switch (json_error_code(jerr)) {
	case json_error_out_of_memory:
		code = BW_ENOMEM;
		what = "out of memory parsing JSON";
		break;
	case json_error_numeric_overflow:
		what = "JSON integer outside the int64 range";
		break;
	case json_error_stack_overflow:
		what = "JSON nested too deeply";
		break;
	case json_error_duplicate_key:
		what = "duplicate JSON object key";
		break;
	case json_error_end_of_input_expected:
		what = "trailing data after the JSON value";
		break;
	case json_error_invalid_utf8:
		what = "invalid UTF-8 in JSON";
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		what = "NUL character in JSON string";
		break;
	default:
		break;
	}
	return bw_err_set(err, code, "%s at line %d, column %d (byte %d): %s",
			  what, jerr->line, jerr->column, jerr->position, text);
}

/* Leave the walk to the next unvisited value, or NULL when done. */
static json_t *walk_next(struct walk_frame *stack, size_t *depth)
{
	while (*depth > 0) {
		struct walk_frame *top = &stack[*depth - 1];
		json_t *child = NULL;

		if (json_is_array(top->v)) {
			if (top->next < json_array_size(top->v))
				child = json_array_get(top->v, top->next++);
		} else if (top->iter != NULL) {
			child = json_object_iter_value(top->iter);
			top->iter = json_object_iter_next(top->v, top->iter);
		}
		if (child != NULL)
			return child;
		(*depth)--;
	}
	return NULL;
}

/* Enforce max_depth (containers open around a value) and the real policy. */
static int check_tree(json_t *root, size_t max_depth, int allow_reals,
		      struct bw_err *err)
{
	struct walk_frame *stack = NULL;
	size_t depth = 0;
	size_t cap;
	json_t *v;
	int rc = BW_EFORMAT;

	cap = max_depth < BW_JSON__MAX_DEPTH ? max_depth : BW_JSON__MAX_DEPTH;
	stack = calloc(cap, sizeof(*stack));
	if (stack == NULL)
		return bw_err_set(err, BW_ENOMEM, "out of memory");
	for (v = root; v != NULL; v = walk_next(stack, &depth)) {
		if (json_is_real(v) && !allow_reals) {
			bw_err_set(err, BW_EFORMAT,
				   "JSON real number not allowed "
				   "(at nesting depth %zu)",
				   depth);
			goto out;
		}
		if (!json_is_array(v) && !json_is_object(v))
			continue;
		if (depth >= cap) {
			bw_err_set(err, BW_EFORMAT,
				   "JSON nested deeper than %zu", cap);
			goto out;
		}
		stack[depth].v = v;
		stack[depth].next = 0;
		stack[depth].iter =
		    json_is_object(v) ? json_object_iter(v) : NULL;
		depth++;
	}
	rc = 0;
out:
	free(stack);
	return rc;
}

int bw_json_parse(const void *buf, size_t len,
		  const struct bw_json_limits *limits, json_t **out,
		  struct bw_err *err)
{
	size_t max_bytes = BW_JSON_DEFAULT_MAX_BYTES;
	size_t max_depth = BW_JSON_DEFAULT_MAX_DEPTH;
	int allow_reals = 0;
	json_error_t jerr;
	json_t *root = NULL;
	int rc;

	if (out == NULL || (buf == NULL && len > 0))
		return bw_err_set(err, BW_EINVAL,
				  "bw_json_parse: bad arguments");
	*out = NULL;
	if (limits != NULL) {
		if (limits->max_bytes != 0)
			max_bytes = limits->max_bytes;
		if (limits->max_depth != 0)
			max_depth = limits->max_depth;
		allow_reals = limits->allow_reals;
	}
	if (len > max_bytes)
		return bw_err_set(err, BW_ETOOBIG,
				  "JSON document of %zu bytes exceeds the "
				  "limit of %zu bytes",
				  len, max_bytes);

	/* No JSON_ALLOW_NUL, no JSON_DISABLE_EOF_CHECK: see the top. */
	root = json_loadb(buf != NULL ? buf : "", len,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (root == NULL)
		return map_jansson_error(&jerr, err);
	rc = check_tree(root, max_depth, allow_reals, err);
	if (rc != 0) {
		json_decref(root);
		return rc;
	}
	*out = root; /* transferred */
	return 0;
}
