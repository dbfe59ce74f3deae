/*===- runtime.h - the llmc runtime C API ---------------------------------===*
 *
 * Loads a compiled model artifact (.llmc), runs it and samples tokens.
 * No global state; every fallible call returns an llmc_status_t, which is
 * NULL on success and otherwise owns a message (free with
 * llmc_status_free). Objects are opaque and freed by their *_free function.
 *
 *   llmc_artifact_t *a;  llmc_session_t *s;  const float *logits;
 *   llmc_artifact_load("model.llmc", &a);
 *   llmc_session_create(a, 0, &s);             // 0 = the compiled maximum
 *   llmc_session_forward(s, prompt, n, &logits); // n x vocab rows
 *
 *===----------------------------------------------------------------------===*/

#ifndef LLMC_RUNTIME_H
#define LLMC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLMC_ARTIFACT_VERSION 1

typedef struct llmc_status_s *llmc_status_t;
typedef struct llmc_artifact_s llmc_artifact_t;
typedef struct llmc_session_s llmc_session_t;
typedef struct llmc_sampler_s llmc_sampler_t;

typedef enum llmc_status_code_e {
  LLMC_OK = 0,
  LLMC_INVALID_ARGUMENT = 1, /* bad parameter or token */
  LLMC_IO_ERROR = 2,         /* cannot open / map / read a file */
  LLMC_BAD_ARTIFACT = 3,     /* truncated, wrong magic, malformed manifest */
  LLMC_UNSUPPORTED = 4,      /* version, target or CPU features not supported */
  LLMC_OUT_OF_RANGE = 5,     /* context overflow */
  LLMC_INTERNAL = 6
} llmc_status_code_t;

llmc_status_code_t llmc_status_code(llmc_status_t status);
/* The message, or "ok" for NULL. Valid until the status is freed. */
const char *llmc_status_message(llmc_status_t status);
void llmc_status_free(llmc_status_t status);

/* Model facts read from the manifest. */
typedef struct llmc_model_info_s {
  int32_t vocab_size;
  int32_t max_seq_len; /* positions the compiled KV cache holds */
  int32_t n_layers, dim, n_heads, n_kv_heads, head_dim;
  int32_t bos_id, eos_id; /* -1 when the tokenizer has none */
} llmc_model_info_t;

/* Maps `path` and validates header, manifest, sections, target and CPU
 * features. The code object is loaded when the first session is created. */
llmc_status_t llmc_artifact_load(const char *path, llmc_artifact_t **out);
void llmc_artifact_free(llmc_artifact_t *artifact);

/* Code compiled into the program itself (`llmc compile --emit exe`): the
 * compiler emits this descriptor, `llmc_linked_model`, next to the entry. */
#define LLMC_LINKED_ABI_VERSION 1
typedef struct llmc_linked_model_s {
  uint32_t abi_version; /* LLMC_LINKED_ABI_VERSION */
  uint32_t reserved;
  void (*forward)(void); /* the llmc-buffer-v1 entry (_mlir_ciface_forward) */
  /* Where the weights are: "" = appended to the executable; otherwise an
   * artifact file name, relative to the executable's directory. */
  const char *artifact;
} llmc_linked_model_t;

/* As llmc_artifact_load, for code linked into the program: `path` is the
 * artifact file, or an executable that carries one after its image (see
 * docs/deploy.md); its code section is not used. */
llmc_status_t llmc_artifact_load_linked(const char *path,
                                        const llmc_linked_model_t *code,
                                        llmc_artifact_t **out);
/* The manifest JSON text (owned by the artifact). */
const char *llmc_artifact_manifest(const llmc_artifact_t *artifact);
llmc_status_t llmc_artifact_info(const llmc_artifact_t *artifact,
                                 llmc_model_info_t *out);
/* Bytes of a named section ("weights", "tokenizer", "code.cpu", ...). */
llmc_status_t llmc_artifact_section(const llmc_artifact_t *artifact,
                                    const char *name, const void **data,
                                    size_t *size);

/* A generation context with its own KV cache of `max_context` positions
 * (0 = the compiled maximum; more than it is an error). Sessions of one
 * artifact share its weights. */
llmc_status_t llmc_session_create(llmc_artifact_t *artifact,
                                  int32_t max_context, llmc_session_t **out);
void llmc_session_free(llmc_session_t *session);
/* Forgets every position (the next forward starts at position 0). */
void llmc_session_reset(llmc_session_t *session);
/* Forgets every position from `position` on (0 <= position <= the current
 * position): the next forward starts there, e.g. to re-run a suffix or drop
 * rejected draft tokens. */
llmc_status_t llmc_session_rewind(llmc_session_t *session, int32_t position);
/* Positions consumed so far. */
int32_t llmc_session_position(const llmc_session_t *session);
/* Runs `n` tokens at the current position and advances it. On success
 * `*logits` points at n rows of vocab_size floats, valid until the next call
 * on this session. Fails without side effects on a bad token id or when the
 * context would overflow. */
llmc_status_t llmc_session_forward(llmc_session_t *session,
                                   const int32_t *tokens, int32_t n,
                                   const float **logits);
/* As llmc_session_forward, but computes only the last position's logits
 * (one row): what generation needs, and much cheaper for long prompts. */
llmc_status_t llmc_session_forward_last(llmc_session_t *session,
                                        const int32_t *tokens, int32_t n,
                                        const float **logits);

/* The tokenizer an artifact carries (`llmc compile --tokenizer`, or the
 * model's own). Independent of the artifact once created. */
typedef struct llmc_tokenizer_s llmc_tokenizer_t;
llmc_status_t llmc_tokenizer_create(const llmc_artifact_t *artifact,
                                    llmc_tokenizer_t **out);
void llmc_tokenizer_free(llmc_tokenizer_t *tokenizer);
/* Token ids of `text` (`length` bytes), BOS first when `add_bos`. Writes at
 * most `capacity` ids and sets `*count` to the number of ids of the text;
 * LLMC_OUT_OF_RANGE when that exceeds `capacity` (call again with room). */
llmc_status_t llmc_tokenizer_encode(const llmc_tokenizer_t *tokenizer,
                                    const char *text, size_t length,
                                    int add_bos, int32_t *ids,
                                    size_t capacity, size_t *count);
/* The bytes token `id` adds after token `prev` (-1 at the start), for
 * streaming output: `*length` bytes at `*piece` (not NUL-terminated), valid
 * until the next call with this tokenizer. */
llmc_status_t llmc_tokenizer_decode(llmc_tokenizer_t *tokenizer, int32_t prev,
                                    int32_t id, const char **piece,
                                    size_t *length);

typedef struct llmc_sampler_params_s {
  float temperature; /* 0 = greedy (argmax) */
  int32_t top_k;     /* 0 = off */
  float top_p;       /* 1 = off */
  uint64_t seed;
} llmc_sampler_params_t;

llmc_status_t llmc_sampler_create(const llmc_sampler_params_t *params,
                                  llmc_sampler_t **out);
void llmc_sampler_free(llmc_sampler_t *sampler);
llmc_status_t llmc_sampler_sample(llmc_sampler_t *sampler,
                                  const float *logits, int32_t vocab_size,
                                  int32_t *token);

/* Per-op timers of artifacts compiled with profiling (`llmc bench
 * --profile`; the manifest's "profile" lists the ops by id): accumulated
 * seconds and calls per op id since the last reset. Process-wide; the
 * arrays stay valid until the next profiled call. */
void llmc_profile_read(int32_t *count, const double **seconds,
                       const int64_t **calls);
void llmc_profile_reset(void);

/* Calibration: artifacts compiled with observation points (`llmc
 * calibrate`; the manifest's "observe" lists the sites) hand each observed
 * activation, a [rows, cols] f32 matrix with `row_stride` floats between
 * rows, to the observer set here (process-wide; NULL: none, the data is
 * ignored). Called on the thread running the forward pass, between ops. */
typedef void (*llmc_observer_fn)(void *user, int32_t site, const float *data,
                                 int64_t rows, int64_t cols,
                                 int64_t row_stride);
void llmc_observer_set(llmc_observer_fn fn, void *user);

/* Early exit: artifacts compiled with early-exit heads (`llmc compile
 * --early-exit`) count the decode steps that left after each layer
 * (process-wide, since the last reset): `exits[l]` for l < `count`, valid
 * until the next read. */
void llmc_early_exit_read(int32_t *count, const int64_t **exits);
void llmc_early_exit_reset(void);

/* Mixture of experts: artifacts compiled with an expert placement
 * (`llmc compile --place-experts`) page their `storage` experts. With a
 * cache of `capacity_bytes` (> 0), those experts' weights stay in the
 * artifact file and are mapped in when a step needs them, least recently
 * used out first, so at most `capacity_bytes` of them are resident; with
 * `prefetch`, a background thread maps in the next MoE layer's likely
 * experts (from the routing statistics the placement was made with) while
 * the current layer computes. 0 turns paging off (everything mapped).
 * Outputs do not depend on it. Set it before running sessions. */
llmc_status_t llmc_artifact_set_expert_cache(llmc_artifact_t *artifact,
                                             uint64_t capacity_bytes,
                                             int prefetch);

/* Where a CPU artifact's weights live while it runs. MAPPED: read through
 * the artifact file's mapping (4 KiB page-cache pages, shared, nothing
 * copied). HUGE_PAGES: copied once into anonymous memory advised as 2 MiB
 * transparent huge pages: decode streams every weight once per token and
 * reads them faster that way (one TLB entry per 2 MiB instead of 512; 1.1B
 * Q4_K_M decode +7 to +19 %), at the cost of the copy at load (about 0.3 s
 * per GB). For a CPU artifact whose weights take at most half the
 * available memory, when the kernel's transparent huge pages are enabled
 * and no experts are paged, the first forward starts that copy in a
 * background thread as it returns: neither the load nor the first token
 * waits for it, and later steps read the copy once it is complete. The environment variable
 * LLMC_WEIGHT_MEMORY=mapped|huge-pages overrides that (huge-pages: copied
 * before the load returns). This function moves them now (HUGE_PAGES:
 * copied before it returns); llmc_artifact_weight_memory says where they
 * are read from. An expert cache (above) puts the weights back on the
 * mapping. Outputs do not depend on it. */
typedef enum llmc_weight_memory_e {
  LLMC_WEIGHTS_MAPPED = 0,
  LLMC_WEIGHTS_HUGE_PAGES = 1
} llmc_weight_memory_t;
llmc_status_t llmc_artifact_set_weight_memory(llmc_artifact_t *artifact,
                                              llmc_weight_memory_t where);
llmc_weight_memory_t llmc_artifact_weight_memory(const llmc_artifact_t *artifact);

typedef struct llmc_expert_stats_s {
  uint64_t capacity_bytes;      /* the cache's budget */
  uint64_t paged_bytes;         /* all paged (storage) experts */
  uint64_t pinned_bytes;        /* experts placed in memory (never paged) */
  uint64_t resident_bytes;      /* paged experts resident now (mincore) */
  uint64_t peak_resident_bytes; /* the most seen after any load (mincore) */
  uint64_t bytes_loaded;        /* mapped in, on demand and by prefetch */
  uint64_t uses;                /* experts a step computed with */
  uint64_t hits;                /* ... already resident (or loading) */
  uint64_t demand_loads;        /* ... loaded when needed */
  uint64_t prefetches;          /* loads the prefetcher issued */
  uint64_t prefetches_used;     /* ... used before being evicted */
  uint64_t predictions;         /* experts predicted for a next layer */
  uint64_t predictions_right;   /* ... that it then chose */
  uint64_t tokens;              /* tokens run since the last reset */
} llmc_expert_stats_t;

/* Counters since the cache was set or last reset. */
llmc_status_t llmc_artifact_expert_stats(llmc_artifact_t *artifact,
                                         llmc_expert_stats_t *out);
void llmc_artifact_expert_stats_reset(llmc_artifact_t *artifact);

/* ---- Devices ------------------------------------------------------------ */

/* The GPU devices this runtime can use, one per line ("vulkan:0  name (...)
 * capabilities: ...", "cuda:0  name (sm_90, ... MiB, driver ...)"), or per
 * API why none ("cuda: no CUDA driver (...)"); copied into `buffer`
 * (NUL-terminated, truncated to `size`). */
llmc_status_t llmc_devices_list(char *buffer, size_t size);

/* The device running `artifact` and its counters (dispatches, command
 * buffers recorded and replayed), as for llmc_devices_list; empty for the
 * CPU. Creates the device if no session has yet. */
llmc_status_t llmc_artifact_device_stats(llmc_artifact_t *artifact,
                                         char *buffer, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* LLMC_RUNTIME_H */
