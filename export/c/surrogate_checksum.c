/* The checksum of an ONNX model's weights (SHA-256 of its top-level graph field); see surrogate_checksum.h. */
#include "surrogate_checksum.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* --- SHA-256 (FIPS 180-4) ------------------------------------------------------------------------------------ */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* Fold one 64-byte BLOCK into the state H. */
static void sha256_block(uint32_t h[8], const unsigned char *block)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 |
               block[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) +
                      K[i] + w[i];
        uint32_t t2 = (rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof *v);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) h[i] += v[i];
}

/* HEX = SHA-256 of DATA[0 .. SIZE). */
static void sha256_hex(const unsigned char *data, size_t size, char hex[65])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned char tail[128] = {0};
    size_t full = size - size % 64, rest = size - full;
    for (size_t i = 0; i < full; i += 64) sha256_block(h, data + i);
    memcpy(tail, data + full, rest);
    tail[rest] = 0x80;
    size_t tail_size = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)size * 8;
    for (int i = 0; i < 8; i++) tail[tail_size - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t i = 0; i < tail_size; i += 64) sha256_block(h, tail + i);
    for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", (unsigned)h[i]);
}

/* --- the top-level protobuf fields ----------------------------------------------------------------------------- */

/* The varint at *POS into *VALUE, advancing *POS; -1 when it runs past END or beyond 64 bits. */
static int read_varint(const unsigned char **pos, const unsigned char *end, uint64_t *value)
{
    *value = 0;
    for (int shift = 0; shift < 64 && *pos < end; shift += 7) {
        unsigned char byte = *(*pos)++;
        *value |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) return 0;
    }
    return -1;
}

int sc_weights_sha256(const unsigned char *data, size_t size, char hex[65])
{
    enum { VARINT = 0, FIXED64 = 1, LENGTH_DELIMITED = 2, FIXED32 = 5, GRAPH_FIELD = 7 };
    const unsigned char *pos = data, *end = data + size, *graph = NULL;
    uint64_t key, value, graph_size = 0;
    int n_graphs = 0;
    while (pos < end) {
        if (read_varint(&pos, end, &key)) return -1;
        int wire = (int)(key & 7);
        if (wire == VARINT) {
            if (read_varint(&pos, end, &value)) return -1;
            continue;
        }
        if (wire == LENGTH_DELIMITED) {
            if (read_varint(&pos, end, &value) || value > (uint64_t)(end - pos)) return -1;
            if (key >> 3 == GRAPH_FIELD) {
                graph = pos;
                graph_size = value;
                n_graphs++;
            }
        } else if (wire == FIXED64 || wire == FIXED32) {
            value = wire == FIXED64 ? 8 : 4;
            if (value > (uint64_t)(end - pos)) return -1;
        } else {
            return -1; /* groups are not in onnx.proto */
        }
        pos += value;
    }
    if (n_graphs != 1) return -1;
    sha256_hex(graph, (size_t)graph_size, hex);
    return 0;
}
