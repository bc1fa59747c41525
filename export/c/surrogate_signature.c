/* The signature metadata of a thermo-surrogate ONNX model, parsed and checked; see surrogate_signature.h. */
#include "surrogate_signature.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "surrogate_json.h"

typedef struct parser {
    sj_cursor cursor;
    char *problem; /* the first problem found, one line */
    size_t size;
    int failed;
} parser;

/* Record the first problem; always -1, so callers can `return fail(...)`. */
static int fail(parser *p, const char *format, ...)
{
    if (!p->failed && p->problem && p->size) {
        va_list args;
        va_start(args, format);
        vsnprintf(p->problem, p->size, format, args);
        va_end(args);
    }
    p->failed = 1;
    return -1;
}

static int json_fail(parser *p)
{
    return fail(p, "not valid JSON (%s) near '%.24s'", p->cursor.error ? p->cursor.error : "syntax error",
                p->cursor.p);
}

/* A string value into *OUT, or a problem naming WHAT and KEY when the value is not a string. */
static int string_field(parser *p, char **out, const char *what, const char *key)
{
    if (sj_peek(&p->cursor) != '"') return fail(p, "%s: '%s' must be a string", what, key);
    return sj_string(&p->cursor, out) ? json_fail(p) : 0;
}

/* --- objects and lists ---------------------------------------------------------------------------------- */

typedef int (*field_parser)(parser *p, int key, void *target, const char *what);
typedef int (*element_parser)(parser *p, void *item, int index, const char *what, const char *key);

/* An object whose keys are among KEYS (REQUIRED: bit mask of those that must be there); FIELD parses each value. */
static int parse_object(parser *p, const char *what, const char *const *keys, int n_keys, unsigned required,
                        field_parser field, void *target)
{
    if (sj_peek(&p->cursor) != '{') return fail(p, "%s is not a JSON object", what);
    unsigned seen = 0;
    int more = sj_begin(&p->cursor, '{');
    while (more == 1) {
        char *key = NULL;
        if (sj_string(&p->cursor, &key) || sj_expect(&p->cursor, ':')) {
            free(key);
            return json_fail(p);
        }
        int k = 0;
        while (k < n_keys && strcmp(keys[k], key) != 0) k++;
        if (k == n_keys || (seen & (1u << k))) {
            fail(p, "%s has %s key '%s'", what, k == n_keys ? "an unknown" : "a repeated", key);
            free(key);
            return -1;
        }
        free(key);
        seen |= 1u << k;
        if (field(p, k, target, what)) return -1;
        more = sj_next(&p->cursor, '}');
    }
    if (more < 0) return json_fail(p);
    for (int k = 0; k < n_keys; k++)
        if ((required & (1u << k)) && !(seen & (1u << k))) return fail(p, "%s lacks '%s'", what, keys[k]);
    return 0;
}

/* The non-empty list at KEY of WHAT; each element is parsed by ELEMENT into a zeroed slot of *ITEMS (counted in *N
   first, so ss_free releases a half-parsed element too). */
static int parse_list(parser *p, const char *what, const char *key, void **items, int *n, size_t item_size,
                      element_parser element)
{
    if (sj_peek(&p->cursor) != '[') return fail(p, "%s: '%s' must be a non-empty list", what, key);
    int capacity = 0;
    int more = sj_begin(&p->cursor, '[');
    while (more == 1) {
        if (*n == capacity) {
            capacity = capacity ? 2 * capacity : 4;
            char *grown = realloc(*items, (size_t)capacity * item_size);
            if (!grown) return fail(p, "out of memory");
            memset(grown + (size_t)*n * item_size, 0, (size_t)(capacity - *n) * item_size);
            *items = grown;
        }
        (*n)++;
        if (element(p, (char *)*items + (size_t)(*n - 1) * item_size, *n - 1, what, key)) return -1;
        more = sj_next(&p->cursor, ']');
    }
    if (more < 0) return json_fail(p);
    return *n == 0 ? fail(p, "%s: '%s' must be a non-empty list", what, key) : 0;
}

/* --- components, tensors, signature ----------------------------------------------------------------------- */

static const char *const COMPONENT_KEYS[] = {"name", "units", "range"};
static const char *const TENSOR_KEYS[] = {"name", "dtype", "shape", "components"};
static const char *const SIGNATURE_KEYS[] = {"inputs", "outputs"};

static int component_field(parser *p, int key, void *target, const char *what)
{
    ss_component *c = target;
    if (key == 0) return string_field(p, &c->name, what, "name");
    if (key == 1) return string_field(p, &c->units, what, "units");
    sj_cursor *cursor = &p->cursor;
    if (sj_peek(cursor) != '[' || sj_expect(cursor, '[') || sj_number(cursor, &c->lo) || sj_expect(cursor, ',') ||
        sj_number(cursor, &c->hi) || sj_expect(cursor, ']') || !(c->lo <= c->hi))
        return fail(p, "%s: 'range' must be [min, max] with min <= max", what);
    c->has_range = 1;
    return 0;
}

static int parse_component(parser *p, void *item, int index, const char *what, const char *key)
{
    (void)key;
    char label[224];
    snprintf(label, sizeof label, "component #%d of %s", index, what);
    return parse_object(p, label, COMPONENT_KEYS, 3, 0x3, component_field, item);
}

static int parse_shape(parser *p, ss_tensor *t, const char *what)
{
    int more = sj_peek(&p->cursor) == '[' ? sj_begin(&p->cursor, '[') : -1;
    while (more == 1) {
        double size = 0;
        if (t->rank == SS_MAX_RANK) return fail(p, "%s: 'shape' has more than %d axes", what, SS_MAX_RANK);
        if (sj_peek(&p->cursor) == '"') {
            char *axis = NULL;
            int bad = sj_string(&p->cursor, &axis) || !axis[0];
            free(axis);
            if (bad) break;
            t->dims[t->rank++] = -1;
        } else if (!sj_number(&p->cursor, &size) && size >= 1 && size <= 9.0e15 && size == floor(size)) {
            t->dims[t->rank++] = (int64_t)size;
        } else {
            break;
        }
        more = sj_next(&p->cursor, ']');
    }
    if (more != 0 || t->rank == 0)
        return fail(p, "%s: 'shape' must be a non-empty list of axis names and positive sizes", what);
    return 0;
}

static int tensor_field(parser *p, int key, void *target, const char *what)
{
    ss_tensor *t = target;
    if (key == 0) return string_field(p, &t->name, what, "name");
    if (key == 1) {
        char *dtype = NULL;
        int failed = string_field(p, &dtype, what, "dtype") ||
                     (strcmp(dtype, "float32") != 0 &&
                      fail(p, "%s: dtype '%s' is not supported (expected float32)", what, dtype));
        free(dtype);
        return failed ? -1 : 0;
    }
    if (key == 2) return parse_shape(p, t, what);
    return parse_list(p, what, "components", (void **)&t->components, &t->n_components, sizeof *t->components,
                      parse_component);
}

/* KEY is "inputs" or "outputs": the tensor is "input #i" / "output #i" in messages. */
static int parse_tensor(parser *p, void *item, int index, const char *what, const char *key)
{
    (void)what;
    char label[64];
    snprintf(label, sizeof label, "%s #%d", strcmp(key, "inputs") == 0 ? "input" : "output", index);
    return parse_object(p, label, TENSOR_KEYS, 4, 0xF, tensor_field, item);
}

static int signature_field(parser *p, int key, void *target, const char *what)
{
    ss_signature *s = target;
    if (key == 0) return parse_list(p, what, "inputs", (void **)&s->inputs, &s->n_inputs, sizeof *s->inputs,
                                    parse_tensor);
    return parse_list(p, what, "outputs", (void **)&s->outputs, &s->n_outputs, sizeof *s->outputs, parse_tensor);
}

/* The rules beyond the JSON types: names, component count, ranges. */
static int check_tensor(parser *p, const ss_tensor *t, int is_input)
{
    const char *kind = is_input ? "input" : "output";
    if (!t->name[0]) return fail(p, "%s tensor with an empty name", kind);
    int64_t width = t->dims[t->rank - 1];
    if (t->n_components != 1 && t->n_components != width) {
        if (width < 0)
            return fail(p, "%s '%s' has %d components for its dynamic last axis: expected 1", kind, t->name,
                        t->n_components);
        return fail(p, "%s '%s' has %d components for last axis %lld: expected 1 or %lld", kind, t->name,
                    t->n_components, (long long)width, (long long)width);
    }
    for (int i = 0; i < t->n_components; i++) {
        const ss_component *c = &t->components[i];
        if (!c->name[0]) return fail(p, "component #%d of %s '%s' has an empty name", i, kind, t->name);
        for (int j = 0; j < i; j++)
            if (strcmp(t->components[j].name, c->name) == 0)
                return fail(p, "%s '%s': component name '%s' repeats", kind, t->name, c->name);
        if (c->has_range && !is_input)
            return fail(p, "component '%s' of output '%s' has a 'range'; only inputs have ranges", c->name, t->name);
        if (c->has_range != t->components[0].has_range)
            return fail(p, "component '%s' of input '%s' has no 'range' while others have one",
                        c->has_range ? t->components[0].name : c->name, t->name);
    }
    return 0;
}

int ss_parse(const char *json, ss_signature *signature, char *problem, size_t size)
{
    parser p = {{json, NULL}, problem, size, 0};
    if (problem && size) problem[0] = '\0';
    if (parse_object(&p, "the signature", SIGNATURE_KEYS, 2, 0x3, signature_field, signature)) return -1;
    if (sj_end(&p.cursor)) return json_fail(&p);
    for (int side = 0; side < 2; side++) {
        const ss_tensor *tensors = side ? signature->outputs : signature->inputs;
        int n = side ? signature->n_outputs : signature->n_inputs;
        for (int i = 0; i < n; i++)
            if (check_tensor(&p, &tensors[i], !side)) return -1;
    }
    for (int i = 0; i < signature->n_inputs + signature->n_outputs; i++) {
        const char *name = i < signature->n_inputs ? signature->inputs[i].name
                                                   : signature->outputs[i - signature->n_inputs].name;
        for (int j = 0; j < i; j++) {
            const char *other = j < signature->n_inputs ? signature->inputs[j].name
                                                        : signature->outputs[j - signature->n_inputs].name;
            if (strcmp(name, other) == 0) return fail(&p, "tensor name '%s' used more than once", name);
        }
    }
    return 0;
}

static void free_tensors(ss_tensor *tensors, int n)
{
    for (int i = 0; tensors && i < n; i++) {
        for (int j = 0; j < tensors[i].n_components; j++) {
            free(tensors[i].components[j].name);
            free(tensors[i].components[j].units);
        }
        free(tensors[i].components);
        free(tensors[i].name);
    }
    free(tensors);
}

void ss_free(ss_signature *signature)
{
    free_tensors(signature->inputs, signature->n_inputs);
    free_tensors(signature->outputs, signature->n_outputs);
    memset(signature, 0, sizeof *signature);
}
