//===- Runtime.cpp - artifact loading, sessions, the C API ----------------===//

#include "llmc/runtime.h"
#include "runtime/src/ArtifactFormat.h"
#include "runtime/src/Internal.h"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llmc::runtime;
using json = nlohmann::json;

llmc_status_t llmc::runtime::makeStatus(llmc_status_code_t code,
                                        std::string message) {
  return new llmc_status_s{code, std::move(message)};
}

extern "C" llmc_status_code_t llmc_status_code(llmc_status_t status) {
  return status ? status->code : LLMC_OK;
}
extern "C" const char *llmc_status_message(llmc_status_t status) {
  return status ? status->message.c_str() : "ok";
}
extern "C" void llmc_status_free(llmc_status_t status) { delete status; }

bool llmc::runtime::ZeroPages::allocate(size_t size) {
  reset();
  void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return false;
  ptr = static_cast<float *>(p);
  bytes = size;
  return true;
}

void llmc::runtime::ZeroPages::reset() {
  if (ptr)
    munmap(ptr, bytes);
  ptr = nullptr;
  bytes = 0;
}

llmc_artifact_s::~llmc_artifact_s() {
  stopWeightCopy(*this);
  experts.reset();
  device.reset();
  if (weightCopy)
    munmap(weightCopy, weightCopySize);
  if (map && map != MAP_FAILED)
    munmap(map, mapSize);
  if (fd >= 0)
    close(fd);
}

namespace {
llmc_status_t bad(const std::string &path, const std::string &what) {
  return makeStatus(LLMC_BAD_ARTIFACT, path + ": " + what);
}

int32_t intField(const json &obj, const char *key, int32_t fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer())
    return fallback;
  return it->get<int32_t>();
}

/// Parses and validates the manifest; throws json errors for wrong types.
llmc_status_t readManifest(llmc_artifact_s &a) {
  const std::string &p = a.path;
  json m = json::parse(a.manifest);
  if (!m.is_object() || m.value("format", "") != "llmc-artifact")
    return bad(p, "manifest is not an llmc-artifact manifest");
  if (m.value("version", -1) != LLMC_ARTIFACT_VERSION)
    return makeStatus(LLMC_UNSUPPORTED,
                      p + ": manifest version " +
                          std::to_string(m.value("version", -1)) +
                          " is not supported (this runtime reads version " +
                          std::to_string(LLMC_ARTIFACT_VERSION) + ")");
  for (const json &s : m.at("sections")) {
    std::string name = s.at("name").get<std::string>();
    uint64_t off = s.at("offset").get<uint64_t>();
    uint64_t size = s.at("size").get<uint64_t>();
    if (off % llmc::artifact::kAlignment)
      return bad(p, "section '" + name + "' is not 64-byte aligned");
    if (off > a.size || size > a.size - off)
      return bad(p, "section '" + name + "' (" + std::to_string(size) +
                        " bytes at " + std::to_string(off) +
                        ") lies past the end of the file (" +
                        std::to_string(a.size) + " bytes): truncated?");
    a.sections[name] = {a.base + off, size};
  }
  const json &model = m.at("model");
  llmc_model_info_t &info = a.info;
  info.vocab_size = intField(model, "vocab_size", 0);
  info.max_seq_len = intField(model, "max_seq_len", 0);
  info.n_layers = intField(model, "n_layers", 0);
  info.dim = intField(model, "dim", 0);
  info.n_heads = intField(model, "n_heads", 0);
  info.n_kv_heads = intField(model, "n_kv_heads", 0);
  info.head_dim = intField(model, "head_dim", 0);
  info.bos_id = -1;
  info.eos_id = -1;
  if (m.contains("tokenizer")) {
    info.bos_id = intField(m["tokenizer"], "bos_id", -1);
    info.eos_id = intField(m["tokenizer"], "eos_id", -1);
  }
  if (info.vocab_size <= 0 || info.max_seq_len <= 0 || info.n_layers <= 0 ||
      info.n_kv_heads <= 0 || info.head_dim <= 0)
    return bad(p, "manifest model section lacks positive vocab_size, "
                  "max_seq_len, n_layers, n_kv_heads or head_dim");

  const json &kv = m.at("kv_cache");
  a.kvShape = kv.at("shape").get<std::vector<int64_t>>();
  // f32, or i8 with 4 more bytes per position (its f32 scale).
  std::string kvType = kv.value("dtype", "");
  a.kvElemBytes = kvType == "f32" ? 4 : kvType == "i8" ? 1 : 0;
  // Slots past the layers: early exit's pending state (recompute policy).
  int64_t stateLayers = kv.value("state_layers", int64_t(0));
  if (!a.kvElemBytes || a.kvShape.size() != 5 || stateLayers < 0 ||
      a.kvShape[0] != info.n_layers + stateLayers || (a.kvShape[1] != 2 && a.kvShape[1] != 1) ||
      a.kvShape[2] != info.n_kv_heads || a.kvShape[3] < info.max_seq_len ||
      a.kvShape[4] != info.head_dim + (a.kvElemBytes == 1 ? 4 : 0))
    return bad(p, "kv_cache must be f32 [n_layers + state_layers, 2 (or 1: "
                  "shared), n_kv_heads, "
                  "capacity >= max_seq_len, head_dim] or i8 [..., "
                  "head_dim + 4]");

  const json &w = m.at("weights");
  auto ws = a.sections.find(w.at("section").get<std::string>());
  if (ws == a.sections.end())
    return bad(p, "weights section is missing");
  a.weights = ws->second;
  if (w.at("bytes").get<uint64_t>() != a.weights.size)
    return bad(p, "weights section size does not match the manifest");

  const json &t = m.at("target");
  a.targetKind = t.at("kind").get<std::string>();
  const json &entry = m.at("entry_points").at(0);
  a.entrySymbol = entry.at("symbol").get<std::string>();
  if (entry.value("abi", "") != llmc::artifact::kEntryABI)
    return makeStatus(LLMC_UNSUPPORTED, p + ": entry ABI '" +
                                            entry.value("abi", "") +
                                            "' is not supported");
  a.codeSection = t.value("code_section", "");
  if (!a.linkedForward && !a.codeSection.empty() &&
      !a.sections.count(a.codeSection))
    return bad(p, "code section '" + a.codeSection + "' is missing");
  a.features = t.value("features", std::vector<std::string>());
  a.arch = t.value("arch", "");
  return nullptr;
}
} // namespace

namespace {
/// Maps the artifact of `path`: the whole file, or the one an executable
/// carries (found by its trailer) when `embedded`.
llmc_status_t mapArtifact(llmc_artifact_s &a, bool embedded) {
  using namespace llmc::artifact;
  const std::string &path = a.path;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return makeStatus(LLMC_IO_ERROR, path + ": cannot open: " +
                                         strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return makeStatus(LLMC_IO_ERROR, path + ": not a regular file");
  }
  uint64_t fileSize = static_cast<uint64_t>(st.st_size);
  uint64_t offset = 0, size = fileSize;
  char trailer[kExeTrailerSize];
  if (embedded && fileSize >= kExeTrailerSize &&
      pread(fd, trailer, kExeTrailerSize, fileSize - kExeTrailerSize) ==
          static_cast<ssize_t>(kExeTrailerSize) &&
      memcmp(trailer + 16, kExeMagic, 8) == 0) {
    memcpy(&offset, trailer, 8);
    memcpy(&size, trailer + 8, 8);
    if (offset % kExeAlignment || offset > fileSize ||
        size > fileSize - offset) {
      close(fd);
      return bad(path, "the embedded artifact's trailer points past the end "
                       "of the file: truncated?");
    }
  }
  if (size < kHeaderSize) {
    close(fd);
    return bad(path, "file is " + std::to_string(size) +
                         " bytes, shorter than the 64-byte header");
  }
  a.mapSize = static_cast<size_t>(size);
  a.map = mmap(nullptr, a.mapSize, PROT_READ, MAP_PRIVATE, fd,
               static_cast<off_t>(offset));
  a.fd = fd; // an expert cache maps parts of it again
  a.fileOffset = offset;
  if (a.map == MAP_FAILED) {
    a.map = nullptr;
    return makeStatus(LLMC_IO_ERROR, path + ": cannot map: " +
                                         strerror(errno));
  }
  a.base = static_cast<const uint8_t *>(a.map);
  a.size = a.mapSize;
  return nullptr;
}

llmc_status_t loadArtifact(const char *path, const llmc_linked_model_t *code,
                           llmc_artifact_t **out) {
  if (!path || !out)
    return makeStatus(LLMC_INVALID_ARGUMENT, "llmc_artifact_load: null argument");
  *out = nullptr;
  auto a = std::make_unique<llmc_artifact_s>();
  a->path = path;
  if (code) {
    if (code->abi_version != LLMC_LINKED_ABI_VERSION || !code->forward)
      return makeStatus(LLMC_UNSUPPORTED,
                        a->path + ": linked code descriptor version " +
                            std::to_string(code->abi_version) +
                            " is not supported (this runtime reads " +
                            std::to_string(LLMC_LINKED_ABI_VERSION) + ")");
    a->linkedForward = code->forward;
  }
  if (llmc_status_t s = mapArtifact(*a, code != nullptr))
    return s;
  if (memcmp(a->base, llmc::artifact::kMagic, 8) != 0)
    return bad(path, code ? "carries no llmc artifact (bad magic)"
                          : "not an llmc artifact (bad magic)");
  uint32_t version;
  uint64_t mOff, mSize;
  memcpy(&version, a->base + 8, 4);
  memcpy(&mOff, a->base + 16, 8);
  memcpy(&mSize, a->base + 24, 8);
  if (version != LLMC_ARTIFACT_VERSION)
    return makeStatus(LLMC_UNSUPPORTED,
                      std::string(path) + ": artifact format version " +
                          std::to_string(version) +
                          " is not supported (this runtime reads version " +
                          std::to_string(LLMC_ARTIFACT_VERSION) + ")");
  if (mOff > a->size || mSize > a->size - mOff)
    return bad(path, "manifest lies past the end of the file: truncated?");
  a->manifest.assign(reinterpret_cast<const char *>(a->base + mOff), mSize);
  llmc_status_t st2;
  try {
    st2 = readManifest(*a);
  } catch (const std::exception &e) {
    return bad(path, std::string("malformed manifest: ") + e.what());
  }
  if (st2)
    return st2;
  if (llmc_status_t s = checkTarget(*a))
    return s;
  if (!a->linkedForward && a->codeSection.empty())
    return makeStatus(LLMC_UNSUPPORTED,
                      a->path + ": its code is linked into an executable "
                                "(built with --emit exe); run that executable");
  placeWeightsAtLoad(*a);
  *out = a.release();
  return nullptr;
}
} // namespace

extern "C" llmc_status_t llmc_artifact_load(const char *path,
                                            llmc_artifact_t **out) {
  return loadArtifact(path, nullptr, out);
}

extern "C" llmc_status_t
llmc_artifact_load_linked(const char *path, const llmc_linked_model_t *code,
                          llmc_artifact_t **out) {
  if (!code)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_artifact_load_linked: null code descriptor");
  return loadArtifact(path, code, out);
}

extern "C" void llmc_artifact_free(llmc_artifact_t *artifact) {
  delete artifact;
}

extern "C" const char *llmc_artifact_manifest(const llmc_artifact_t *a) {
  return a ? a->manifest.c_str() : "";
}

extern "C" llmc_status_t llmc_artifact_info(const llmc_artifact_t *a,
                                            llmc_model_info_t *out) {
  if (!a || !out)
    return makeStatus(LLMC_INVALID_ARGUMENT, "llmc_artifact_info: null argument");
  *out = a->info;
  return nullptr;
}

extern "C" llmc_status_t llmc_artifact_section(const llmc_artifact_t *a,
                                               const char *name,
                                               const void **data,
                                               size_t *size) {
  if (!a || !name || !data || !size)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_artifact_section: null argument");
  auto it = a->sections.find(name);
  if (it == a->sections.end())
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      a->path + ": no section '" + name + "'");
  *data = it->second.data;
  *size = it->second.size;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

extern "C" llmc_status_t llmc_session_create(llmc_artifact_t *a,
                                             int32_t maxContext,
                                             llmc_session_t **out) {
  if (!a || !out)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_session_create: null argument");
  *out = nullptr;
  if (maxContext < 0 || maxContext > a->info.max_seq_len)
    return makeStatus(LLMC_OUT_OF_RANGE,
                      "max context " + std::to_string(maxContext) +
                          " exceeds the " + std::to_string(a->info.max_seq_len) +
                          " positions the model was compiled for");
  if (llmc_status_t s = ensureDevice(*a))
    return s;
  auto s = std::make_unique<llmc_session_s>();
  s->artifact = a;
  s->maxContext = maxContext ? maxContext : a->info.max_seq_len;
  size_t kvBytes = kvCacheBytes(*a);
  if (a->device->hostKV() && kvBytes && !s->kv.allocate(kvBytes))
    return makeStatus(LLMC_IO_ERROR, a->path + ": cannot allocate the " +
                                         std::to_string(kvBytes) +
                                         "-byte KV cache: " + strerror(errno));
  *out = s.release();
  return nullptr;
}

extern "C" void llmc_session_free(llmc_session_t *s) {
  if (s && s->artifact && s->artifact->device)
    s->artifact->device->releaseSession(*s);
  delete s;
}

extern "C" void llmc_session_reset(llmc_session_t *s) {
  if (s)
    s->position = 0;
}

extern "C" llmc_status_t llmc_session_rewind(llmc_session_t *s,
                                             int32_t position) {
  if (!s)
    return makeStatus(LLMC_INVALID_ARGUMENT, "llmc_session_rewind: null session");
  if (position < 0 || position > s->position)
    return makeStatus(LLMC_OUT_OF_RANGE,
                      "cannot rewind to position " + std::to_string(position) +
                          ": the session holds positions [0, " +
                          std::to_string(s->position) + ")");
  // Cache entries at and after `position` are overwritten before any later
  // step reads them (attention reads [0, position + n) after writing).
  s->position = position;
  return nullptr;
}

extern "C" int32_t llmc_session_position(const llmc_session_t *s) {
  return s ? s->position : 0;
}

namespace {
llmc_status_t forwardRows(llmc_session_t *s, const int32_t *tokens, int32_t n,
                          bool all, const float **logits) {
  if (!s || !tokens || !logits || n <= 0)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_session_forward: null argument or n <= 0");
  const llmc_model_info_t &info = s->artifact->info;
  if (n > s->maxContext - s->position)
    return makeStatus(LLMC_OUT_OF_RANGE,
                      "context overflow: " + std::to_string(s->position) +
                          " positions used + " + std::to_string(n) +
                          " new tokens > max context " +
                          std::to_string(s->maxContext));
  for (int32_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= info.vocab_size)
      return makeStatus(LLMC_INVALID_ARGUMENT,
                        "token " + std::to_string(tokens[i]) + " at index " +
                            std::to_string(i) + " is outside the vocabulary [0, " +
                            std::to_string(info.vocab_size) + ")");
  int32_t rows = all ? n : 1;
  s->logits.resize(static_cast<size_t>(rows) * info.vocab_size);
  ExpertCache *cache = s->artifact->experts.get();
  ExpertCache *&current = currentExpertCache();
  ExpertCache *saved = current;
  current = cache;
  if (cache)
    cache->beginStep(n);
  llmc_status_t st = s->artifact->device->forward(*s, tokens, n, rows);
  if (cache)
    cache->endStep();
  current = saved;
  if (st)
    return st;
  s->position += n;
  *logits = s->logits.data();
  return nullptr;
}
} // namespace

extern "C" llmc_status_t llmc_session_forward(llmc_session_t *s,
                                              const int32_t *tokens,
                                              int32_t n,
                                              const float **logits) {
  return forwardRows(s, tokens, n, /*all=*/true, logits);
}

extern "C" llmc_status_t llmc_session_forward_last(llmc_session_t *s,
                                                   const int32_t *tokens,
                                                   int32_t n,
                                                   const float **logits) {
  return forwardRows(s, tokens, n, /*all=*/false, logits);
}

//===----------------------------------------------------------------------===//
// Expert cache
//===----------------------------------------------------------------------===//

extern "C" llmc_status_t llmc_artifact_set_expert_cache(llmc_artifact_t *a,
                                                        uint64_t capacity,
                                                        int prefetch) {
  if (!a)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_artifact_set_expert_cache: null artifact");
  a->experts.reset();
  if (capacity == 0)
    return nullptr;
  // Paging maps the experts' file pages in and out: the weights must be
  // read through the mapping.
  if (llmc_status_t s = placeWeights(*a, LLMC_WEIGHTS_MAPPED))
    return s;
  return createExpertCache(*a, capacity, prefetch != 0, a->experts);
}

extern "C" llmc_status_t
llmc_artifact_set_weight_memory(llmc_artifact_t *a, llmc_weight_memory_t where) {
  if (!a)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_artifact_set_weight_memory: null artifact");
  return placeWeights(*a, where);
}

extern "C" llmc_weight_memory_t
llmc_artifact_weight_memory(const llmc_artifact_t *a) {
  return a && a->hugeWeights.load() ? LLMC_WEIGHTS_HUGE_PAGES
                                     : LLMC_WEIGHTS_MAPPED;
}

extern "C" llmc_status_t llmc_artifact_expert_stats(llmc_artifact_t *a,
                                                    llmc_expert_stats_t *out) {
  if (!a || !out)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_artifact_expert_stats: null argument");
  *out = a->experts ? a->experts->stats() : llmc_expert_stats_t{};
  return nullptr;
}

extern "C" void llmc_artifact_expert_stats_reset(llmc_artifact_t *a) {
  if (a && a->experts)
    a->experts->resetStats();
}

//===----------------------------------------------------------------------===//
// Devices
//===----------------------------------------------------------------------===//

namespace {
void copyText(const std::string &text, char *buffer, size_t size) {
  if (!buffer || !size)
    return;
  size_t n = std::min(text.size(), size - 1);
  memcpy(buffer, text.data(), n);
  buffer[n] = '\0';
}
} // namespace

extern "C" llmc_status_t llmc_devices_list(char *buffer, size_t size) {
  if (!buffer || !size)
    return makeStatus(LLMC_INVALID_ARGUMENT, "llmc_devices_list: no buffer");
  copyText(describeVulkanDevices() + describeCUDADevices(), buffer, size);
  return nullptr;
}

extern "C" llmc_status_t llmc_artifact_device_stats(llmc_artifact_t *a,
                                                    char *buffer,
                                                    size_t size) {
  if (!a || !buffer || !size)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_artifact_device_stats: null argument");
  if (llmc_status_t s = ensureDevice(*a))
    return s;
  copyText(a->device->describe(), buffer, size);
  return nullptr;
}
