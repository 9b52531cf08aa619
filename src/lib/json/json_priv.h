/*
 * Private to src/lib/json/.
 */
#ifndef BULWARK_JSON_PRIV_H
#define BULWARK_JSON_PRIV_H

/*
 * Deepest nesting either side handles, as jansson's parser counts it
 * (JSON_PARSER_MAX_DEPTH): every value's level, itself included, so 2048
 * nested empty arrays, or 2047 around a scalar. With the same limit in the
 * encoder, anything bw_json_parse accepts can be canonicalised and
 * anything canonicalised nests shallowly enough to be parsed again. The
 * encoder also relies on it to stop on a cyclic json_t tree.
 */
#define BW_JSON__MAX_DEPTH 2048u

#endif
