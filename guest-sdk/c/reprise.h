/*
 * reprise.h - C guest SDK for Reprise, guest ABI v1 (abi/ABI.md).
 *
 * A guest is a WASI reactor module that exports an entry function (REPRISE_ENTRY)
 * and calls the host imports of module "reprise_v1". Build with
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -g0 -o fn.wasm fn.c reprise.c
 *
 * Conventions of this SDK:
 *  - Calls that start something asynchronous return a reprise_promise: a positive
 *    handle, or a negative reprise_error when the host refused (e.g. payload too large).
 *  - Error codes that can only mean a bug (bad handle, bad memory, bad argument,
 *    already set) trap after logging the call that failed, as ABI.md suggests; the
 *    host then retries the attempt and finally rejects the execution.
 *  - Bytes that come out of the host are returned in a malloc'd buffer that has one
 *    extra NUL byte after the data (so text can be used as a C string); free() it.
 *  - Durations are nanoseconds (int64_t); use REPRISE_MS / REPRISE_SECONDS.
 */
#ifndef REPRISE_H
#define REPRISE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define REPRISE_ABI_VERSION 1

/* Error codes returned by host calls (negative results). */
typedef enum reprise_error {
	REPRISE_OK = 0,
	REPRISE_ERR_BAD_HANDLE = -1,   /* the handle was not returned by this attempt */
	REPRISE_ERR_BAD_MEMORY = -2,   /* a (ptr, len) lies outside memory */
	REPRISE_ERR_TOO_LARGE = -3,    /* payload over the host's limit */
	REPRISE_ERR_BAD_ARGUMENT = -4, /* bad name, bad http JSON, count <= 0, negative sleep */
	REPRISE_ERR_NOT_SETTLED = -5,  /* value of a promise not awaited to settlement */
	REPRISE_ERR_LIMIT = -6,        /* a per-execution limit (reserved) */
	REPRISE_ERR_ALREADY_SET = -7,  /* resolve or reject was called before */
	REPRISE_ERR_DISABLED = -8      /* a capability not granted (reserved) */
} reprise_error;

/* How a promise settled, as returned by reprise_await. */
typedef enum reprise_state {
	REPRISE_RESOLVED = 1,
	REPRISE_REJECTED = 2,
	REPRISE_CANCELED = 3, /* rejected: canceled */
	REPRISE_TIMEDOUT = 4  /* rejected: timed out */
} reprise_state;

/* Log levels. */
typedef enum reprise_level {
	REPRISE_DEBUG = 0,
	REPRISE_INFO = 1,
	REPRISE_WARN = 2,
	REPRISE_ERROR = 3
} reprise_level;

/* A promise handle: > 0 a promise this attempt started; REPRISE_SELF (0) the
 * execution's own promise (only for reprise_promise_id); < 0 a reprise_error. */
typedef int32_t reprise_promise;
#define REPRISE_SELF ((reprise_promise)0)

#define REPRISE_MS(ms) ((int64_t)(ms) * 1000000LL)
#define REPRISE_SECONDS(s) ((int64_t)(s) * 1000000000LL)

/* Defines an exported entry function: REPRISE_ENTRY(run) { ... }. Deploy with
 * --entry NAME for another name than "run". */
#define REPRISE_ENTRY(name) \
	__attribute__((export_name(#name))) void name(void)

/* ---- Raw host imports (module "reprise_v1"), exactly as in ABI.md. ---- */

#define REPRISE_IMPORT_(n) __attribute__((import_module("reprise_v1"), import_name(n)))

REPRISE_IMPORT_("input") int32_t reprise_host_input(void *buf, int32_t cap);
REPRISE_IMPORT_("resolve") int32_t reprise_host_resolve(const void *ptr, int32_t len);
REPRISE_IMPORT_("reject") int32_t reprise_host_reject(const void *ptr, int32_t len);
REPRISE_IMPORT_("invoke") int32_t reprise_host_invoke(const void *name, int32_t name_len,
                                                      const void *args, int32_t args_len);
REPRISE_IMPORT_("sleep") int32_t reprise_host_sleep(int64_t duration_ns);
REPRISE_IMPORT_("promise") int32_t reprise_host_promise(int64_t timeout_ns);
REPRISE_IMPORT_("http") int32_t reprise_host_http(const void *req, int32_t req_len);
REPRISE_IMPORT_("await") int32_t reprise_host_await(int32_t handle);
REPRISE_IMPORT_("await_any") int32_t reprise_host_await_any(const int32_t *handles, int32_t count);
REPRISE_IMPORT_("value") int32_t reprise_host_value(int32_t handle, void *buf, int32_t cap);
REPRISE_IMPORT_("promise_id") int32_t reprise_host_promise_id(int32_t handle, void *buf, int32_t cap);
REPRISE_IMPORT_("now") int64_t reprise_host_now(void);
REPRISE_IMPORT_("random") int32_t reprise_host_random(void *buf, int32_t len);
REPRISE_IMPORT_("log") void reprise_host_log(int32_t level, const void *ptr, int32_t len);

/* ---- Input and outcome ---- */

/* The execution's input, malloc'd (NUL-terminated); its length in *len (may be NULL). */
uint8_t *reprise_input(size_t *len);

/* Set the execution's result / rejection value (once). 0, or REPRISE_ERR_TOO_LARGE.
 * Returning from the entry without either resolves with an empty value. */
int reprise_resolve(const void *data, size_t len);
int reprise_resolve_str(const char *s);
int reprise_reject(const void *data, size_t len);
/* Rejects with the JSON {"error":"<message>"}. */
int reprise_reject_error(const char *message);

/* ---- Promises ---- */

/* Starts the deployed function `name` as a child execution with `args` as input. */
reprise_promise reprise_invoke(const char *name, const void *args, size_t args_len);
/* A durable timer that resolves (empty value) after duration_ns (rounded up to ms). */
reprise_promise reprise_sleep(int64_t duration_ns);
/* A promise someone outside settles by its id; it times out after timeout_ns (0: never). */
reprise_promise reprise_new_promise(int64_t timeout_ns);
/* An outbound HTTP request; `req_json` is the request object of ABI.md. */
reprise_promise reprise_http(const void *req_json, size_t len);

/* Blocks until p settles; returns its reprise_state. Cheap (and not journaled)
 * for a promise already settled. */
reprise_state reprise_await(reprise_promise p);
/* Blocks until one of the n promises settles; returns its index. */
size_t reprise_await_any(const reprise_promise *ps, size_t n);
/* The value of a promise already awaited (resolved value or rejection value),
 * malloc'd; NULL if it was not awaited yet (REPRISE_ERR_NOT_SETTLED). */
uint8_t *reprise_value(reprise_promise p, size_t *len);
/* reprise_await, then reprise_value into *value (may be NULL to skip). */
reprise_state reprise_await_value(reprise_promise p, uint8_t **value, size_t *len);
/* The promise's durable id (malloc'd string); REPRISE_SELF gives the execution's id. */
char *reprise_promise_id(reprise_promise p);

/* ---- Time, randomness, logs ---- */

/* Real wall-clock time, Unix nanoseconds (journaled). */
int64_t reprise_now(void);
/* Fills buf with cryptographically random bytes (journaled). 0 or an error. */
int reprise_random(void *buf, size_t len);
void reprise_log(reprise_level level, const char *msg);
void reprise_log_bytes(reprise_level level, const void *msg, size_t len);
void reprise_logf(reprise_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- Helpers ---- */

/* "resolved", "rejected", "canceled", "timedout" (or "unknown"). */
const char *reprise_state_name(int state);
/* A description of an error code, e.g. "bad handle". */
const char *reprise_error_name(int code);
/* Standard padded base64 of data, malloc'd and NUL-terminated. */
char *reprise_base64_encode(const void *data, size_t len);
/* Decodes standard padded base64 into a malloc'd buffer (NUL-terminated);
 * NULL if s is not valid base64. */
uint8_t *reprise_base64_decode(const char *s, size_t slen, size_t *len);
/* data as a JSON string literal (with the quotes), malloc'd: escapes like Go's
 * encoding/json, invalid UTF-8 bytes become \ufffd. Length in *out_len (may be NULL). */
char *reprise_json_quote(const void *data, size_t len, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* REPRISE_H */
