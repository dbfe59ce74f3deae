//===- CodeCache.cpp - compiled code cached by what it depends on ---------===//
//
// See CodeCache.h. An entry is one file <key>.code: the magic "LLMCCODE",
// a u64 length, a JSON object {arch, features, kernels, bytes} and the
// code bytes.
//
//===----------------------------------------------------------------------===//

#include "CodeCache.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"
#include "llvm/TargetParser/Host.h"
#include "mlir/IR/BuiltinAttributes.h"
#include <algorithm>
#include <cstring>

using namespace llvm;
using namespace llmc;

namespace {
constexpr char kMagic[8] = {'L', 'L', 'M', 'C', 'C', 'O', 'D', 'E'};
/// The directory's bound: entries beyond it go, least recently used first.
constexpr uint64_t kMaxCacheBytes = uint64_t(2) << 30;

std::string codeDirectory() {
  SmallString<256> dir(cacheDirectory());
  sys::path::append(dir, "code");
  return std::string(dir);
}

std::string entryPath(StringRef key) {
  SmallString<256> path(codeDirectory());
  sys::path::append(path, key + ".code");
  return std::string(path);
}

/// The CPU the code is generated for: "native" names this machine's CPU
/// and features, so a cache shared between machines never mixes them.
std::string cpuIdentity(const CompileOptions &o) {
  if (o.cpu != "native" || !o.triple.empty())
    return o.triple + "/" + o.cpu;
  std::string id = "native:" + sys::getHostCPUName().str();
  StringMap<bool> features = sys::getHostCPUFeatures();
  std::vector<std::string> on;
  for (auto &f : features)
    if (f.second)
      on.push_back(f.first().str());
  llvm::sort(on);
  return id + ":" + llvm::join(on, ",");
}

/// Drops the least recently used entries until the directory fits its
/// bound (the newest entry always stays).
void pruneCache(StringRef keep) {
  struct Entry {
    std::string path;
    uint64_t size;
    sys::TimePoint<> used;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code ec;
  for (sys::fs::directory_iterator it(codeDirectory(), ec), end;
       it != end && !ec; it.increment(ec)) {
    if (sys::path::extension(it->path()) != ".code")
      continue;
    sys::fs::file_status st;
    if (sys::fs::status(it->path(), st))
      continue;
    entries.push_back({it->path(), st.getSize(), st.getLastModificationTime()});
    total += st.getSize();
  }
  llvm::sort(entries, [](const Entry &a, const Entry &b) {
    return a.used < b.used;
  });
  for (const Entry &e : entries) {
    if (total <= kMaxCacheBytes)
      break;
    if (e.path == keep)
      continue;
    if (!sys::fs::remove(e.path))
      total -= e.size;
  }
}
} // namespace

std::string llmc::cacheDirectory() {
  SmallString<256> dir;
  if (auto xdg = sys::Process::GetEnv("XDG_CACHE_HOME"); xdg && !xdg->empty())
    dir = *xdg;
  else if (!sys::path::cache_directory(dir))
    dir = "/tmp";
  sys::path::append(dir, "llmc");
  return std::string(dir);
}

uint64_t llmc::compilerHash() {
  static uint64_t hash = [] {
    std::string exe =
        sys::fs::getMainExecutable(nullptr, (void *)&llmc::compilerHash);
    auto buffer = MemoryBuffer::getFile(exe);
    return buffer ? xxh3_64bits(arrayRefFromStringRef((*buffer)->getBuffer()))
                  : uint64_t(0);
  }();
  return hash;
}

std::string llmc::codeCacheKey(mlir::ModuleOp module,
                               const CompileOptions &o) {
  std::string text;
  raw_string_ostream os(text);
  // The module's attributes but the file paths (of the weights and the
  // tokenizer: neither is code), then every op as printed (no locations).
  for (mlir::NamedAttribute a : module->getAttrs()) {
    if (a.getName() == "llm.tokenizer")
      continue;
    if (auto model = dyn_cast<mlir::DictionaryAttr>(a.getValue());
        model && a.getName() == "llm.model") {
      for (mlir::NamedAttribute f : model)
        if (f.getName() != "path")
          os << "model." << f.getName() << "=" << f.getValue() << "\n";
      continue;
    }
    os << a.getName() << "=" << a.getValue() << "\n";
  }
  for (mlir::Operation &op : *module.getBody())
    os << op << "\n";
  os << "target=" << o.target << "|" << o.vulkanTarget << "|" << o.cudaArch
     << "|" << o.cudaMMA << "|" << cpuIdentity(o) << "|O" << o.optLevel
     << "|emit=" << o.emit << "|compiler=" << compilerHash();
  XXH128_hash_t h = xxh3_128bits(arrayRefFromStringRef(text));
  return utohexstr(h.high64, /*LowerCase=*/true, 16) +
         utohexstr(h.low64, /*LowerCase=*/true, 16);
}

std::optional<GeneratedCode> llmc::lookupCode(StringRef key) {
  std::string path = entryPath(key);
  auto buffer = MemoryBuffer::getFile(path, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  if (!buffer)
    return std::nullopt;
  StringRef data = (*buffer)->getBuffer();
  uint64_t metaSize = 0;
  if (data.size() < 16 || memcmp(data.data(), kMagic, 8))
    return std::nullopt;
  memcpy(&metaSize, data.data() + 8, 8);
  if (metaSize > data.size() - 16)
    return std::nullopt;
  Expected<json::Value> meta = json::parse(data.substr(16, metaSize));
  if (!meta) {
    consumeError(meta.takeError());
    return std::nullopt;
  }
  const json::Object *m = meta->getAsObject();
  std::optional<StringRef> arch = m ? m->getString("arch") : std::nullopt;
  std::optional<int64_t> kernels = m ? m->getInteger("kernels") : std::nullopt;
  std::optional<int64_t> bytes = m ? m->getInteger("bytes") : std::nullopt;
  const json::Array *features = m ? m->getArray("features") : nullptr;
  StringRef code = data.substr(16 + metaSize);
  if (!arch || !kernels || !bytes || !features ||
      uint64_t(*bytes) != code.size())
    return std::nullopt;
  GeneratedCode out;
  out.arch = arch->str();
  out.kernelCount = *kernels;
  for (const json::Value &f : *features)
    if (std::optional<StringRef> s = f.getAsString())
      out.features.push_back(s->str());
  out.code = code.str();
  // A hit is a use: the least recently used entries go first.
  int fd;
  if (!sys::fs::openFileForRead(path, fd)) {
    auto now = std::chrono::system_clock::now();
    (void)sys::fs::setLastAccessAndModificationTime(fd, now, now);
    sys::Process::SafelyCloseFileDescriptor(fd);
  }
  return out;
}

std::string llmc::storeCode(StringRef key, const GeneratedCode &code) {
  std::string dir = codeDirectory();
  if (sys::fs::create_directories(dir))
    return "";
  json::Array features;
  for (const std::string &f : code.features)
    features.push_back(f);
  std::string meta;
  raw_string_ostream(meta) << json::Value(json::Object{
      {"arch", code.arch},
      {"features", std::move(features)},
      {"kernels", code.kernelCount},
      {"bytes", int64_t(code.code.size())}});
  std::string path = entryPath(key);
  SmallString<256> temp;
  int fd;
  if (sys::fs::createUniqueFile(path + ".%%%%%%.tmp", fd, temp))
    return "";
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    uint64_t size = meta.size();
    os.write(kMagic, 8);
    os.write(reinterpret_cast<const char *>(&size), 8);
    os << meta << code.code;
    if (os.has_error()) {
      os.clear_error();
      sys::fs::remove(temp);
      return "";
    }
  }
  if (sys::fs::rename(temp, path)) {
    sys::fs::remove(temp);
    return "";
  }
  pruneCache(path);
  return path;
}
