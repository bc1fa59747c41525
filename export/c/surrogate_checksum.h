/*
 * The checksum of a thermo-surrogate ONNX model's weights: SHA-256 of the payload of the top-level `graph` field
 * (ModelProto field 7: nodes and initializers) exactly as its bytes lie in the file, found by walking the file's
 * top-level protobuf fields. `surrogate export` records it in the metadata entry `weights_sha256`; the Python twin
 * is export/checksum.py, and both hash the same bytes. No ONNX Runtime here.
 */
#ifndef SURROGATE_CHECKSUM_H
#define SURROGATE_CHECKSUM_H

#include <stddef.h>

#define SC_WEIGHTS_KEY "weights_sha256"

/*
 * HEX (65 bytes: 64 lower-case hex digits and '\0') = SHA-256 of the graph field of the serialized model DATA.
 * Returns 0, or -1 when DATA is not well-formed top-level fields holding exactly one graph field.
 */
int sc_weights_sha256(const unsigned char *data, size_t size, char hex[65]);

#endif /* SURROGATE_CHECKSUM_H */
