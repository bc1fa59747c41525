/*
 * The process-wide side of surrogate_ort: one OrtEnv shared by every handle (ONNX Runtime keeps one environment
 * per process anyway), created with the first handle and released with the last, optionally with ONNX Runtime's
 * global thread pools so that handles share one pool instead of one pool each; and the rank-aware default
 * thread count.
 */
#ifndef SURROGATE_RUNTIME_ENV_H
#define SURROGATE_RUNTIME_ENV_H

#include <stddef.h>

#include <onnxruntime_c_api.h>

/*
 * The shared environment, counted once more. GLOBAL_POOL 1: it must have global thread pools (made with
 * N_THREADS intra-op threads and SPINNING if this is the first handle). Returns NULL with a SURROGATE_ERR_* code
 * in *STATUS and a message in ERROR (SURROGATE_ERR_THREADS when handles without the global pool already hold an
 * environment without one).
 */
OrtEnv *se_acquire(const OrtApi *api, int global_pool, int n_threads, int spinning, int *status, char *error,
                   size_t size);

/* One handle fewer; the environment is released with the last. */
void se_release(const OrtApi *api);

/* The default intra-op threads of a handle (see surrogate_default_threads): 1 inside an OpenMP parallel region,
   else OMP_NUM_THREADS (at most SURROGATE_THREADS_PER_CPU per CPU online), else available CPUs / ranks on this node. */
int se_default_threads(void);

/* The CPUs online on this machine (not the affinity mask), at least 1. */
int se_cpus_online(void);

#endif /* SURROGATE_RUNTIME_ENV_H */
