//===- Module.cpp - the llmc._llmc extension module (nanobind) ------------===//
//
// Low-level bindings; the documented API is the pure-Python package `llmc`
// (python_bindings/llmc/__init__.py) built on these. Compiler calls go
// through Api.h; runtime calls go straight to the C API. The GIL is
// released around every compile, optimize, roofline and forward call.
//
//===----------------------------------------------------------------------===//

#include "Api.h"
#include "llmc/runtime.h"
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>
#include <cstring>

namespace nb = nanobind;
using namespace nb::literals;
using namespace llmc;

namespace {

/// Raises llmc.errors.<cls>(message[, code]).
[[noreturn]] void raise(const char *cls, const std::string &message,
                        const char *code = nullptr) {
  nb::object type = nb::module_::import_("llmc.errors").attr(cls);
  nb::object exc = code ? type(message, code) : type(message);
  PyErr_SetObject(type.ptr(), exc.ptr());
  throw nb::python_error();
}

const char *codeName(llmc_status_code_t c) {
  switch (c) {
  case LLMC_OK: return "ok";
  case LLMC_INVALID_ARGUMENT: return "invalid_argument";
  case LLMC_IO_ERROR: return "io_error";
  case LLMC_BAD_ARTIFACT: return "bad_artifact";
  case LLMC_UNSUPPORTED: return "unsupported";
  case LLMC_OUT_OF_RANGE: return "out_of_range";
  case LLMC_INTERNAL: return "internal";
  }
  return "internal";
}

/// Raises llmc.errors.RunError for a failed runtime status (freeing it).
void check(llmc_status_t s) {
  if (!s)
    return;
  std::string m = llmc_status_message(s);
  const char *code = codeName(llmc_status_code(s));
  llmc_status_free(s);
  raise("RunError", m, code);
}

struct Artifact {
  llmc_artifact_t *a = nullptr;
  std::string path;
  explicit Artifact(const std::string &p) : path(p) {
    llmc_status_t s;
    {
      nb::gil_scoped_release unlocked;
      s = llmc_artifact_load(p.c_str(), &a);
    }
    check(s);
  }
  ~Artifact() { llmc_artifact_free(a); }
  llmc_model_info_t info() const {
    llmc_model_info_t i;
    check(llmc_artifact_info(a, &i));
    return i;
  }
};

struct Session {
  llmc_session_t *s = nullptr;
  int32_t vocab = 0;
  Session(Artifact &art, int32_t maxContext) {
    vocab = art.info().vocab_size;
    check(llmc_session_create(art.a, maxContext, &s));
  }
  ~Session() { llmc_session_free(s); }
};

struct Sampler {
  llmc_sampler_t *s = nullptr;
  Sampler(float temperature, int32_t topK, float topP, uint64_t seed) {
    llmc_sampler_params_t p{temperature, topK, topP, seed};
    check(llmc_sampler_create(&p, &s));
  }
  ~Sampler() { llmc_sampler_free(s); }
};

using Tokens = nb::ndarray<const int32_t, nb::ndim<1>, nb::c_contig,
                           nb::device::cpu>;
using Logits = nb::ndarray<nb::numpy, float, nb::ndim<2>>;
using LogitsView = nb::ndarray<nb::numpy, const float, nb::ndim<2>>;
using Row = nb::ndarray<const float, nb::ndim<1>, nb::c_contig,
                        nb::device::cpu>;

nb::dict rowDict(const api::RooflineRow &r) {
  nb::dict d;
  d["op"] = r.op;
  d["weight"] = r.weight;
  d["layer"] = r.layer;
  d["flops"] = r.flops;
  d["weight_bytes"] = r.weightBytes;
  d["act_load_bytes"] = r.actLoadBytes;
  d["act_store_bytes"] = r.actStoreBytes;
  d["kv_load_bytes"] = r.kvLoadBytes;
  d["kv_store_bytes"] = r.kvStoreBytes;
  d["intensity"] = r.intensity;
  d["attainable_flops"] = r.attainableFlops;
  d["bound"] = r.bound;
  d["time_s"] = r.timeS;
  return d;
}

nb::list rowList(const std::vector<api::RooflineRow> &rows) {
  nb::list out;
  for (const api::RooflineRow &r : rows)
    out.append(rowDict(r));
  return out;
}

api::CompileArgs compileArgs(const std::string &target, const std::string &cpu,
                             int optLevel, bool llmOptimize,
                             int64_t decodeSplits, const std::string &softmax,
                             const std::string &tokenizer, bool progress,
                             const std::string &quant, bool quantAsymmetric,
                             bool quantClip,
                             const std::vector<std::string> &quantKeep,
                             const std::string &calibration,
                             const std::string &kvCache,
                             const std::string &earlyExit,
                             const std::vector<int64_t> &skipLayers,
                             const std::string &cudaArch) {
  api::CompileArgs a;
  a.target = target;
  a.cpu = cpu;
  a.optLevel = optLevel;
  a.llmOptimize = llmOptimize;
  a.decodeSplits = decodeSplits;
  a.softmax = softmax;
  a.tokenizer = tokenizer;
  a.progress = progress;
  a.quant = quant;
  a.quantAsymmetric = quantAsymmetric;
  a.quantClip = quantClip;
  a.quantKeep = quantKeep;
  a.calibration = calibration;
  a.kvCache = kvCache;
  a.earlyExit = earlyExit;
  a.skipLayers = skipLayers;
  a.cudaArch = cudaArch;
  return a;
}

api::RooflineArgs rooflineArgs(const std::string &hardware,
                               const std::string &phase, int64_t batch,
                               int64_t seq, int64_t kvLen, int optLevel) {
  api::RooflineArgs a;
  a.hardware = hardware;
  a.phase = phase;
  a.batch = batch;
  a.seq = seq;
  a.kvLen = kvLen;
  a.optLevel = optLevel;
  return a;
}

/// Runs `call(error)` with the GIL released; raises CompileError(error)
/// when it returns false.
template <typename F> void compilerCall(F &&call) {
  std::string error;
  bool ok;
  {
    nb::gil_scoped_release unlocked;
    ok = call(error);
  }
  if (!ok)
    raise("CompileError", error);
}

/// The Module `obj` holds, or null when it is something else (a path).
const api::Module *moduleOrNull(nb::handle obj) {
  return nb::isinstance<api::Module>(obj) ? nb::inst_ptr<api::Module>(obj)
                                          : nullptr;
}

} // namespace

NB_MODULE(_llmc, m) {
  m.doc() = "Low-level bindings of llmc; use the `llmc` package.";

  nb::class_<api::Module>(m, "Module")
      .def("__str__", &api::Module::str);

  m.def("import_model", [](const std::string &path, const std::string &tok) {
    std::unique_ptr<api::Module> mod;
    compilerCall([&](std::string &error) {
      mod = api::importModel(path, tok, error);
      return mod != nullptr;
    });
    return mod;
  }, "path"_a, "tokenizer"_a);

  m.def("parse", [](const std::string &text) {
    std::string error;
    auto mod = api::parseModule(text, error);
    if (!mod)
      raise("CompileError", error);
    return mod;
  }, "text"_a);

  m.def("opt", [](const api::Module &mod, const std::string &pipeline) {
    std::unique_ptr<api::Module> out;
    compilerCall([&](std::string &error) {
      out = api::runPipeline(mod, pipeline, error);
      return out != nullptr;
    });
    return out;
  }, "module"_a, "pipeline"_a);

  // `model` is an llmc._llmc.Module or a path (str).
  m.def("compile",
        [](nb::object model, const std::string &out, const std::string &target,
           const std::string &cpu, int optLevel, bool llmOptimize,
           int64_t decodeSplits, const std::string &softmax,
           const std::string &tokenizer, bool progress,
           const std::string &quant, bool quantAsymmetric, bool quantClip,
           const std::vector<std::string> &quantKeep,
           const std::string &calibration, const std::string &kvCache,
           const std::string &earlyExit,
           const std::vector<int64_t> &skipLayers,
           const std::string &cudaArch) {
          api::CompileArgs a = compileArgs(
              target, cpu, optLevel, llmOptimize, decodeSplits, softmax,
              tokenizer, progress, quant, quantAsymmetric, quantClip,
              quantKeep, calibration, kvCache, earlyExit, skipLayers,
              cudaArch);
          const api::Module *mod = moduleOrNull(model);
          std::string input = mod ? "" : nb::cast<std::string>(model);
          std::string path;
          compilerCall([&](std::string &error) {
            return mod ? api::compileModule(*mod, a, out, path, error)
                       : api::compilePath(input, a, out, path, error);
          });
          return path;
        },
        "model"_a, "out"_a, "target"_a, "cpu"_a, "opt_level"_a,
        "llm_optimize"_a, "decode_splits"_a, "softmax"_a, "tokenizer"_a,
        "progress"_a, "quant"_a, "quant_asymmetric"_a, "quant_clip"_a,
        "quant_keep"_a, "calibration"_a, "kv_cache"_a, "early_exit"_a,
        "skip_layers"_a, "cuda_arch"_a);

  m.def("roofline",
        [](nb::object model, const std::string &hardware,
           const std::string &phase, int64_t batch, int64_t seq,
           int64_t kvLen, int optLevel) {
          api::RooflineArgs a =
              rooflineArgs(hardware, phase, batch, seq, kvLen, optLevel);
          const api::Module *mod = moduleOrNull(model);
          std::string input = mod ? "" : nb::cast<std::string>(model);
          std::vector<api::RooflineRow> rows;
          compilerCall([&](std::string &error) {
            return mod ? api::rooflineModule(*mod, a, rows, error)
                       : api::rooflinePath(input, a, rows, error);
          });
          return rowList(rows);
        },
        "model"_a, "hardware"_a, "phase"_a, "batch"_a, "seq"_a, "kv_len"_a,
        "opt_level"_a);

  nb::class_<api::Tokenizer>(m, "Tokenizer")
      .def("encode", &api::Tokenizer::encode, "text"_a, "add_bos"_a)
      // Bytes: a piece may end inside a UTF-8 sequence (byte tokens).
      .def("decode",
           [](const api::Tokenizer &t, const std::vector<int32_t> &ids) {
             std::string s = t.decode(ids);
             return nb::bytes(s.data(), s.size());
           },
           "ids"_a)
      .def("decode_token",
           [](const api::Tokenizer &t, int32_t prev, int32_t id) {
             std::string s = t.decodeToken(prev, id);
             return nb::bytes(s.data(), s.size());
           },
           "prev"_a, "id"_a)
      .def_prop_ro("vocab_size", &api::Tokenizer::vocabSize)
      .def_prop_ro("bos_id", &api::Tokenizer::bos)
      .def_prop_ro("eos_id", &api::Tokenizer::eos);

  m.def("parse_tokenizer",
        [](const std::string &format, const std::string &path,
           nb::bytes data) {
          std::string error;
          auto tok = api::parseTokenizer(
              format, path, std::string(data.c_str(), data.size()), error);
          if (!tok)
            raise("RunError", error, "bad_artifact");
          return tok;
        },
        "format"_a, "path"_a, "data"_a);

  nb::class_<Artifact>(m, "Artifact")
      .def(nb::init<const std::string &>(), "path"_a)
      .def_ro("path", &Artifact::path)
      .def_prop_ro("manifest",
                   [](const Artifact &a) {
                     return std::string(llmc_artifact_manifest(a.a));
                   })
      .def("info",
           [](const Artifact &a) {
             llmc_model_info_t i = a.info();
             nb::dict d;
             d["vocab_size"] = i.vocab_size;
             d["max_seq_len"] = i.max_seq_len;
             d["n_layers"] = i.n_layers;
             d["dim"] = i.dim;
             d["n_heads"] = i.n_heads;
             d["n_kv_heads"] = i.n_kv_heads;
             d["head_dim"] = i.head_dim;
             d["bos_id"] = i.bos_id;
             d["eos_id"] = i.eos_id;
             return d;
           })
      .def("section", [](const Artifact &a, const std::string &name) {
        const void *data;
        size_t size;
        check(llmc_artifact_section(a.a, name.c_str(), &data, &size));
        return nb::bytes(static_cast<const char *>(data), size);
      }, "name"_a);

  nb::class_<Session>(m, "Session")
      .def(nb::init<Artifact &, int32_t>(), "artifact"_a, "max_context"_a,
           nb::keep_alive<1, 2>())
      .def_prop_ro("position",
                   [](const Session &s) { return llmc_session_position(s.s); })
      .def("reset", [](Session &s) { llmc_session_reset(s.s); })
      .def("rewind",
           [](Session &s, int32_t pos) { check(llmc_session_rewind(s.s, pos)); },
           "position"_a)
      .def("forward",
           [](nb::handle self, Tokens tokens, bool lastOnly,
              bool copy) -> nb::object {
             Session &s = nb::cast<Session &>(self);
             int32_t n = static_cast<int32_t>(tokens.shape(0));
             const float *logits = nullptr;
             llmc_status_t st;
             {
               nb::gil_scoped_release unlocked;
               st = lastOnly ? llmc_session_forward_last(s.s, tokens.data(), n,
                                                         &logits)
                             : llmc_session_forward(s.s, tokens.data(), n,
                                                    &logits);
             }
             check(st);
             size_t rows = lastOnly ? 1 : size_t(n);
             size_t count = rows * size_t(s.vocab);
             if (!copy)
               // Valid until the next call on this session: read-only, and
               // the session stays alive while the view does.
               return nb::cast(LogitsView(logits, {rows, size_t(s.vocab)},
                                          self));
             float *buf = new float[count];
             std::memcpy(buf, logits, count * sizeof(float));
             nb::capsule owner(buf, [](void *p) noexcept {
               delete[] static_cast<float *>(p);
             });
             return nb::cast(Logits(buf, {rows, size_t(s.vocab)}, owner));
           },
           "tokens"_a, "last_only"_a, "copy"_a);

  nb::class_<Sampler>(m, "Sampler")
      .def(nb::init<float, int32_t, float, uint64_t>(), "temperature"_a,
           "top_k"_a, "top_p"_a, "seed"_a)
      .def("sample", [](Sampler &s, Row logits) {
        int32_t token;
        check(llmc_sampler_sample(s.s, logits.data(),
                                  static_cast<int32_t>(logits.shape(0)),
                                  &token));
        return token;
      }, "logits"_a);
}
