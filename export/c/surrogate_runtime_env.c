/* The shared OrtEnv, its global thread pool, and the rank-aware default thread count; see surrogate_runtime_env.h. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "surrogate_runtime_env.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "surrogate_ort.h"

static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
static OrtEnv *env;
static int env_users, env_global_pool;

/* The environment with global thread pools of N_THREADS intra-op threads, one inter-op thread, SPINNING. */
static OrtStatus *create_with_pool(const OrtApi *api, int n_threads, int spinning)
{
    OrtThreadingOptions *threading = NULL;
    OrtStatus *status = api->CreateThreadingOptions(&threading);
    if (!status) status = api->SetGlobalIntraOpNumThreads(threading, n_threads);
    if (!status) status = api->SetGlobalInterOpNumThreads(threading, 1);
    if (!status) status = api->SetGlobalSpinControl(threading, spinning);
    if (!status) status = api->CreateEnvWithGlobalThreadPools(ORT_LOGGING_LEVEL_WARNING, "surrogate_ort", threading,
                                                              &env);
    if (threading) api->ReleaseThreadingOptions(threading);
    return status;
}

OrtEnv *se_acquire(const OrtApi *api, int global_pool, int n_threads, int spinning, int *status, char *error,
                   size_t size)
{
    int code = SURROGATE_OK;
    pthread_mutex_lock(&env_lock);
    if (env && global_pool && !env_global_pool) {
        code = SURROGATE_ERR_THREADS;
        if (error && size)
            snprintf(error, size, "the global thread pool cannot be created: handles without it are open; open the "
                     "first handle of the process with global_thread_pool = 1 (or close the others first)");
    } else if (!env) {
        OrtStatus *failure = global_pool ? create_with_pool(api, n_threads, spinning)
                                         : api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "surrogate_ort", &env);
        if (failure) {
            code = SURROGATE_ERR_RUNTIME;
            if (error && size) snprintf(error, size, "cannot start ONNX Runtime: %s", api->GetErrorMessage(failure));
            api->ReleaseStatus(failure);
            env = NULL;
        } else {
            env_global_pool = global_pool;
        }
    }
    OrtEnv *result = code == SURROGATE_OK ? env : NULL;
    if (result) env_users++;
    pthread_mutex_unlock(&env_lock);
    if (status) *status = code;
    return result;
}

void se_release(const OrtApi *api)
{
    pthread_mutex_lock(&env_lock);
    if (env_users > 0 && --env_users == 0) {
        api->ReleaseEnv(env);
        env = NULL;
        env_global_pool = 0;
    }
    pthread_mutex_unlock(&env_lock);
}

/* The first positive integer among the environment variables NAMES, read up to one of the characters in ENDS or
   the end (Slurm writes e.g. "4(x2)", OMP_NUM_THREADS a list per nesting level, "4,2"); 0 when there is none. */
static long env_count(const char *const *names, const char *ends)
{
    for (; *names; names++) {
        const char *value = getenv(*names);
        if (!value) continue;
        char *end;
        long n = strtol(value, &end, 10);
        if (end != value && (*end == '\0' || strchr(ends, *end)) && n > 0) return n;
    }
    return 0;
}

/* omp_in_parallel of the program's OpenMP runtime when it has one (a weak reference: this library does not need
   OpenMP itself), else 0. */
#if defined(__GNUC__) || defined(__clang__)
extern int omp_in_parallel(void) __attribute__((weak));
static int in_openmp_parallel(void) { return omp_in_parallel && omp_in_parallel(); }
#else
static int in_openmp_parallel(void) { return 0; }
#endif

int se_cpus_online(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (int)cpus : 1;
}

int se_default_threads(void)
{
    static const char *const omp[] = {"OMP_NUM_THREADS", NULL};
    static const char *const local_ranks[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                                              "SLURM_NTASKS_PER_NODE", "PALS_LOCAL_SIZE", NULL};
    static const char *const world_ranks[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS",
                                              NULL};
    if (in_openmp_parallel()) return 1; /* each thread of the region runs its own calls: no pool inside a pool */
    const long most = (long)SURROGATE_THREADS_PER_CPU * se_cpus_online(), chosen = env_count(omp, ",");
    if (chosen > 0) return (int)(chosen < most ? chosen : most);
    int cpus = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
    if (cpus < 1) cpus = se_cpus_online();
    long local = env_count(local_ranks, "(");
    if (local > 0) return cpus / local > 1 ? (int)(cpus / local) : 1;
    return env_count(world_ranks, "(") > 1 ? 1 : cpus;
}
