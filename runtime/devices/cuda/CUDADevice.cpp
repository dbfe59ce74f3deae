//===- CUDADevice.cpp - runs an artifact's kernels through the driver API -===//
//
// A `--target cuda` artifact carries host code (a shared library, as on the
// CPU) whose every buffer access is a kernel launch through the mgpu*
// functions (devices/gpu/GPUHost.h); its kernel modules are bundles of PTX
// and cubins per architecture (lowering/cuda/BundleCUDA.cpp). This device
// implements them on the CUDA driver API:
//
// - libcuda is dlopened (CUDADriver.h): without it the runtime still loads
//   and says "no CUDA driver"; without a GPU, "no CUDA device". The device
//   is LLMC_CUDA_DEVICE (default 0), used through its primary context.
// - Each module loads the cubin built for the device's architecture (or
//   the newest one of its major version not above it), else the newest PTX
//   not above it, which the driver JIT-compiles; none fitting is an error
//   naming both sides.
// - Device pointers are real, so the host code's views and launches pass
//   straight through: cuLaunchKernel takes the parameter array gpu-to-llvm
//   builds. Launches go to one non-blocking stream in order; forward
//   synchronizes once, after copying the logits back.
// - CUDA graphs: each forward's launches are captured from the stream into
//   a graph, and one executable graph per (tokens, logit rows) shape is
//   updated in place with the new parameters (cuGraphExecUpdate; a new
//   one is instantiated when the kernel sequence changed) and launched as
//   one unit, which removes most per-kernel launch overhead from decode
//   steps. LLMC_CUDA_GRAPHS=0, or a driver without graphs, launches
//   kernels one by one.
// - Weights are uploaded once; each session's KV cache, tokens and logits
//   stay on the device; temporaries come from a pool of freed buffers by
//   size (stream order makes reuse safe).
//
//===----------------------------------------------------------------------===//

#include "runtime/devices/cuda/CUDADriver.h"
#include "runtime/devices/gpu/GPUHost.h"
#include "runtime/src/Internal.h"
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

using namespace llmc::runtime;
using namespace llmc::runtime::cuda;

namespace {
int archNumber(const std::string &arch) {
  return arch.rfind("sm_", 0) == 0 ? std::atoi(arch.c_str() + 3) : 0;
}
} // namespace

int llmc::runtime::pickCUDAImage(const std::vector<CUDAImage> &images,
                                 const std::string &deviceArch) {
  int dev = archNumber(deviceArch);
  int best = -1, bestRank = -1;
  for (size_t i = 0; i < images.size(); ++i) {
    int a = archNumber(images[i].arch);
    int rank = -1;
    if (images[i].format == "cubin" && a / 10 == dev / 10 && a <= dev)
      rank = 2000 + a; // SASS runs on its major version, minor >= its own
    else if (images[i].format == "ptx" && a <= dev)
      rank = 1000 + a; // PTX is JIT-compiled for any newer device
    if (rank > bestRank)
      bestRank = rank, best = static_cast<int>(i);
  }
  return best;
}

std::string llmc::runtime::parseCUDABundle(const void *data, size_t size,
                                           std::vector<CUDAImage> &images) {
  const char *p = static_cast<const char *>(data);
  if (size < 12 || std::memcmp(p, "LLMCCUDA", 8) != 0)
    return "a kernel module is not an llmc CUDA bundle (bad magic)";
  uint32_t n;
  std::memcpy(&n, p + 8, 4);
  if (12 + uint64_t(n) > size)
    return "a kernel module's table runs past its end";
  size_t payload = (12 + size_t(n) + 7) / 8 * 8;
  try {
    nlohmann::json table = nlohmann::json::parse(p + 12, p + 12 + n);
    for (const auto &im : table.at("images")) {
      CUDAImage i;
      i.arch = im.at("arch").get<std::string>();
      i.format = im.at("format").get<std::string>();
      uint64_t off = im.at("offset").get<uint64_t>();
      uint64_t len = im.at("size").get<uint64_t>();
      if (payload + off + len > size)
        return "a kernel module's " + i.arch + " " + i.format +
               " image runs past its end";
      i.data = p + payload + off;
      i.size = len;
      images.push_back(i);
    }
  } catch (const std::exception &e) {
    return std::string("a kernel module's table is malformed: ") + e.what();
  }
  if (images.empty())
    return "a kernel module has no images";
  return "";
}

namespace {
struct Buffer {
  CUdeviceptr ptr = 0;
  size_t size = 0;
};

struct SessionBuffers {
  Buffer kv, tokens, logits;
};

class CUDADevice : public Device, public gpu::Backend {
public:
  ~CUDADevice() override {
    if (!context)
      return;
    drv.cuCtxSetCurrent(context);
    if (stream)
      drv.cuStreamSynchronize(stream);
    for (auto &[_, s] : sessions)
      for (Buffer *b : {&s.kv, &s.tokens, &s.logits})
        freeBuffer(*b);
    for (auto &[_, list] : pool)
      for (CUdeviceptr p : list)
        drv.cuMemFree(p);
    freeBuffer(weights);
    for (auto &[_, exec] : execs)
      drv.cuGraphExecDestroy(exec);
    for (CUmodule m : modules)
      drv.cuModuleUnload(m);
    if (stream)
      drv.cuStreamDestroy(stream);
    drv.cuDevicePrimaryCtxRelease(device);
  }

  llmc_status_t open(llmc_artifact_s &a) {
    artifact = &a;
    std::string why = drv.open();
    if (!why.empty())
      return makeStatus(LLMC_UNSUPPORTED, a.path + ": " + why);
    int count = 0, pick = 0;
    drv.cuDeviceGetCount(&count);
    if (const char *env = std::getenv("LLMC_CUDA_DEVICE")) {
      pick = std::atoi(env);
      if (pick < 0 || pick >= count)
        return makeStatus(LLMC_INVALID_ARGUMENT,
                          "LLMC_CUDA_DEVICE=" + std::string(env) +
                              ": the driver sees " + std::to_string(count) +
                              " device(s)");
    }
    if (CUresult r = drv.cuDeviceGet(&device, pick))
      return makeStatus(LLMC_UNSUPPORTED, a.path + ": cuDeviceGet: " +
                                              drv.errorString(r));
    char buf[256] = {};
    drv.cuDeviceGetName(buf, sizeof buf - 1, device);
    name = buf;
    arch = drv.arch(device);
    if (CUresult r = drv.cuDevicePrimaryCtxRetain(&context, device)) {
      context = nullptr;
      return makeStatus(LLMC_UNSUPPORTED, a.path + ": cannot create a CUDA "
                                                   "context on '" + name +
                                                   "': " + drv.errorString(r));
    }
    drv.cuCtxSetCurrent(context);
    if (CUresult r = drv.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING))
      return makeStatus(LLMC_INTERNAL, a.path + ": cuStreamCreate: " +
                                           drv.errorString(r));
    const char *g = std::getenv("LLMC_CUDA_GRAPHS");
    graphs = drv.hasGraphs && !(g && std::string(g) == "0");

    // The host code: its constructors load the kernel modules.
    void *sym = nullptr;
    {
      gpu::ScopedBackend scope(this);
      if (llmc_status_t s = code.load(a, sym))
        return s;
    }
    entry = reinterpret_cast<EntryFn>(sym);
    if (!error.empty())
      return takeError(LLMC_BAD_ARTIFACT);

    // Weights, uploaded once.
    if (!allocBuffer(weights, std::max<size_t>(a.weights.size, 4)) ||
        !check(drv.cuMemcpyHtoDAsync(weights.ptr, a.weights.data,
                                     a.weights.size, stream),
               "uploading the weights") ||
        !check(drv.cuStreamSynchronize(stream), "uploading the weights"))
      return takeError(LLMC_OUT_OF_RANGE);
    return nullptr;
  }

  bool hostKV() const override { return false; }

  void releaseSession(llmc_session_s &s) override {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = sessions.find(&s);
    if (it == sessions.end())
      return;
    drv.cuCtxSetCurrent(context);
    drv.cuStreamSynchronize(stream);
    for (Buffer *b : {&it->second.kv, &it->second.tokens, &it->second.logits})
      freeBuffer(*b);
    sessions.erase(it);
  }

  llmc_status_t forward(llmc_session_s &s, const int32_t *tokens, int32_t n,
                        int32_t rows) override {
    std::lock_guard<std::mutex> lock(mutex);
    llmc_artifact_s &a = *s.artifact;
    error.clear();
    drv.cuCtxSetCurrent(context);
    SessionBuffers &sb = sessions[&s];
    if (!sb.kv.ptr) {
      size_t bytes = kvCacheBytes(a);
      if (!allocBuffer(sb.kv, bytes) ||
          !check(drv.cuMemsetD8Async(sb.kv.ptr, 0, bytes, stream),
                 "clearing the KV cache"))
        return takeError(LLMC_OUT_OF_RANGE);
    }
    size_t tokBytes = size_t(n) * 4;
    size_t logitBytes = size_t(rows) * a.info.vocab_size * 4;
    if (!ensureBuffer(sb.tokens, tokBytes) ||
        !ensureBuffer(sb.logits, logitBytes))
      return takeError(LLMC_OUT_OF_RANGE);
    if (!check(drv.cuMemcpyHtoDAsync(sb.tokens.ptr, tokens, tokBytes, stream),
               "uploading the tokens"))
      return takeError(LLMC_INTERNAL);
    auto ptr = [](const Buffer &b) {
      return reinterpret_cast<const void *>(static_cast<uintptr_t>(b.ptr));
    };
    auto run = [&] {
      gpu::ScopedBackend scope(this);
      callEntry(entry, a,
                {ptr(sb.tokens), ptr(sb.kv), ptr(weights), ptr(sb.logits)}, n,
                s.position, rows);
    };
    if (graphs &&
        drv.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_RELAXED) ==
            CUDA_SUCCESS) {
      run();
      CUgraph graph = nullptr;
      CUresult r = drv.cuStreamEndCapture(stream, &graph);
      if (r == CUDA_SUCCESS) {
        if (error.empty())
          launchGraph(graph, {n, rows});
      } else {
        // The capture was invalidated (something the driver does not allow
        // while capturing): nothing ran, so run the step directly and stop
        // capturing.
        error.clear();
        graphs = false;
        run();
      }
      if (graph)
        drv.cuGraphDestroy(graph);
    } else {
      run();
    }
    if (!error.empty())
      return takeError(LLMC_INTERNAL);
    s.logits.resize(static_cast<size_t>(rows) * a.info.vocab_size);
    if (!check(drv.cuMemcpyDtoHAsync(s.logits.data(), sb.logits.ptr,
                                     logitBytes, stream),
               "reading the logits") ||
        !check(drv.cuStreamSynchronize(stream), "running the kernels"))
      return takeError(LLMC_INTERNAL);
    ++forwards;
    return nullptr;
  }

  std::string describe() const override {
    return "cuda device '" + name + "' (" + arch + ", " + image + "): " +
           std::to_string(forwards) + " forward calls, " +
           std::to_string(launches) + " kernel launches, " +
           std::to_string(modules.size()) + " modules, " +
           (graphs || graphLaunches
                ? "graphs launched " + std::to_string(graphLaunches) +
                      ", instantiated " + std::to_string(instantiated) +
                      ", updated " + std::to_string(updated)
                : std::string("graphs off"));
  }

  //===--------------------------------------------------------------------===//
  // gpu::Backend: what the host code calls
  //===--------------------------------------------------------------------===//

  void *moduleLoad(const void *data, size_t size) override {
    std::vector<CUDAImage> images;
    std::string why = parseCUDABundle(data, size, images);
    if (!why.empty()) {
      fail(why);
      return nullptr;
    }
    int pick = pickCUDAImage(images, arch);
    if (pick < 0) {
      std::string have;
      for (const CUDAImage &im : images)
        if (have.find(im.arch) == std::string::npos)
          have += (have.empty() ? "" : ", ") + im.arch;
      fail("the kernels were compiled for " + have + "; CUDA device '" + name +
           "' is " + arch + " (recompile with --cuda-arch " + arch + ")");
      return nullptr;
    }
    const CUDAImage &im = images[pick];
    image = im.format + " " + im.arch;
    char log[4096] = {};
    int opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {log, reinterpret_cast<void *>(sizeof log - 1)};
    CUmodule m = nullptr;
    if (CUresult r = drv.cuModuleLoadDataEx(&m, im.data, 2, opts, vals)) {
      fail("cannot load the " + im.format + " for " + im.arch + " on '" +
           name + "': " + drv.errorString(r) + (log[0] ? ": " : "") + log);
      return nullptr;
    }
    modules.push_back(m);
    return m;
  }

  void moduleUnload(void *) override {}

  void *getFunction(void *module, const char *fnName) override {
    if (!module)
      return nullptr;
    // The host code asks before every launch.
    auto key = std::make_pair(module, std::string(fnName));
    auto it = functions.find(key);
    if (it != functions.end())
      return it->second;
    CUfunction f = nullptr;
    if (CUresult r = drv.cuModuleGetFunction(
            &f, static_cast<CUmodule>(module), fnName)) {
      fail(std::string("kernel '") + fnName + "': " + drv.errorString(r));
      return nullptr;
    }
    functions[key] = f;
    return f;
  }

  void launch(void *function, const int64_t grid[3], const int64_t block[3],
              void **params, size_t) override {
    if (!function || !error.empty())
      return;
    for (int i = 0; i < 3; ++i)
      if (grid[i] == 0)
        return; // an empty range: nothing to run
    ++launches;
    check(drv.cuLaunchKernel(static_cast<CUfunction>(function),
                             unsigned(grid[0]), unsigned(grid[1]),
                             unsigned(grid[2]), unsigned(block[0]),
                             unsigned(block[1]), unsigned(block[2]), 0, stream,
                             params, nullptr),
          "cuLaunchKernel");
  }

  void *allocate(uint64_t bytes) override {
    bytes = std::max<uint64_t>((bytes + 255) / 256 * 256, 256);
    auto &list = pool[bytes];
    if (!list.empty()) {
      CUdeviceptr p = list.back();
      list.pop_back();
      sizes[p] = bytes;
      return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
    }
    Buffer b;
    if (!allocBuffer(b, bytes))
      return nullptr;
    sizes[b.ptr] = bytes;
    return reinterpret_cast<void *>(static_cast<uintptr_t>(b.ptr));
  }

  void release(void *pointer) override {
    auto p = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer));
    auto it = sizes.find(p);
    if (it == sizes.end())
      return;
    pool[it->second].push_back(p);
    sizes.erase(it);
  }

private:
  /// Runs a captured step: the shape's executable graph, updated with this
  /// step's parameters or (re)instantiated.
  void launchGraph(CUgraph graph, std::pair<int32_t, int32_t> shape) {
    CUgraphExec &exec = execs[shape];
    GraphUpdateInfo info{};
    if (exec && drv.cuGraphExecUpdate(exec, graph, &info) == CUDA_SUCCESS) {
      ++updated;
    } else {
      if (exec)
        drv.cuGraphExecDestroy(exec);
      exec = nullptr;
      if (!check(drv.cuGraphInstantiate(&exec, graph, 0),
                 "instantiating the step's CUDA graph"))
        return;
      ++instantiated;
    }
    if (check(drv.cuGraphLaunch(exec, stream), "cuGraphLaunch"))
      ++graphLaunches;
  }

  void fail(const std::string &why) {
    if (error.empty())
      error = why;
  }
  bool check(CUresult r, const char *what) {
    if (r == CUDA_SUCCESS)
      return true;
    fail(std::string(what) + ": " + drv.errorString(r));
    return false;
  }
  llmc_status_t takeError(llmc_status_code_t code) {
    std::string e = error.empty() ? "unknown CUDA error" : error;
    error.clear();
    return makeStatus(code, artifact->path + ": " + e);
  }
  bool allocBuffer(Buffer &b, size_t bytes) {
    if (CUresult r = drv.cuMemAlloc(&b.ptr, bytes)) {
      b.ptr = 0;
      fail("out of device memory allocating " + std::to_string(bytes) +
           " bytes on '" + name + "' (" + drv.errorString(r) + ")");
      return false;
    }
    b.size = bytes;
    return true;
  }
  bool ensureBuffer(Buffer &b, size_t bytes) {
    if (b.ptr && b.size >= bytes)
      return true;
    freeBuffer(b);
    return allocBuffer(b, std::max<size_t>(bytes, 256));
  }
  void freeBuffer(Buffer &b) {
    if (b.ptr) {
      drv.cuStreamSynchronize(stream);
      drv.cuMemFree(b.ptr);
    }
    b = Buffer();
  }

  Driver drv;
  llmc_artifact_s *artifact = nullptr;
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUstream stream = nullptr;
  std::string name, arch, image = "no modules", error;
  CodeObject code;
  EntryFn entry = nullptr;
  std::vector<CUmodule> modules;
  Buffer weights;
  std::map<llmc_session_s *, SessionBuffers> sessions;
  std::map<uint64_t, std::vector<CUdeviceptr>> pool;
  std::map<CUdeviceptr, uint64_t> sizes;
  std::map<std::pair<void *, std::string>, CUfunction> functions;
  std::map<std::pair<int32_t, int32_t>, CUgraphExec> execs;
  bool graphs = false;
  std::mutex mutex;
  uint64_t forwards = 0, launches = 0, graphLaunches = 0, instantiated = 0,
           updated = 0;
};
} // namespace

llmc_status_t llmc::runtime::createCUDADevice(llmc_artifact_s &a,
                                              std::unique_ptr<Device> &out) {
  return openDevice<CUDADevice>(a, out);
}

std::string llmc::runtime::describeCUDADevices() {
  Driver drv;
  std::string why = drv.open();
  if (!why.empty())
    return "cuda: " + why + "\n";
  int count = 0, version = 0;
  drv.cuDeviceGetCount(&count);
  drv.cuDriverGetVersion(&version);
  std::string out;
  for (int i = 0; i < count; ++i) {
    CUdevice d;
    if (drv.cuDeviceGet(&d, i) != CUDA_SUCCESS)
      continue;
    char buf[256] = {};
    drv.cuDeviceGetName(buf, sizeof buf - 1, d);
    size_t mem = 0;
    drv.cuDeviceTotalMem(&mem, d);
    out += "cuda:" + std::to_string(i) + "  " + buf + " (" + drv.arch(d) +
           ", " + std::to_string(mem >> 20) + " MiB, driver " +
           std::to_string(version / 1000) + "." +
           std::to_string(version % 1000 / 10) + ")\n";
  }
  return out;
}
