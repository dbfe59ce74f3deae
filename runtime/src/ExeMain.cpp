//===- ExeMain.cpp - main() of executables built with --emit exe ----------===//
//
//   ./chat [--prompt TEXT | --prompt-file F] [-n N] [--temp T] [--top-k K]
//          [--top-p P] [--seed S] [--max-context N] [--stats]
//          [--dump-logits FILE]
//
// The compiled model is linked in (`llmc_linked_model`, emitted by the
// compiler); its weights and tokenizer are appended to this executable or,
// built with --weights external, in the artifact file next to it. Behaves
// like `llmc run` on the same artifact.
//
//===----------------------------------------------------------------------===//

#include "llmc/generate.h"
#include "llmc/runtime.h"
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

extern "C" const llmc_linked_model_t llmc_linked_model;

namespace {
const char *progName = "llmc-exe";

int fail(const std::string &message) {
  std::fprintf(stderr, "%s: error: %s\n", progName, message.c_str());
  return 1;
}

void usage(std::FILE *to) {
  std::fprintf(to,
               "usage: %s [--prompt TEXT | --prompt-file FILE] [-n N] "
               "[--temp T] [--top-k K]\n"
               "          [--top-p P] [--seed S] [--max-context N] [--stats] "
               "[--dump-logits FILE]\n",
               progName);
}

/// The executable's own path (the kernel's view, independent of argv[0]).
std::string selfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return "/proc/self/exe";
  buf[n] = '\0';
  return buf;
}

bool isValueOption(const std::string &arg) {
  for (const char *o : {"--prompt", "-p", "--prompt-file", "--dump-logits", "-n",
                        "--temp", "--top-k", "--top-p", "--seed",
                        "--max-context"})
    if (arg == o)
      return true;
  return false;
}

bool parseNumber(const std::string &text, double &out) {
  char *end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end && *end == '\0';
}
} // namespace

int main(int argc, char **argv) {
  if (argc > 0 && argv[0]) {
    const char *slash = std::strrchr(argv[0], '/');
    progName = slash ? slash + 1 : argv[0];
  }
  llmc::GenerateOptions o;
  std::string promptFile;
  bool havePrompt = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    }
    if (arg == "--stats") {
      o.stats = true;
      continue;
    }
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    } else if (!isValueOption(arg)) {
      usage(stderr);
      return fail("unknown option '" + arg + "'");
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage(stderr);
      return fail("option '" + arg + "' needs a value");
    }
    double num = 0;
    bool numeric = parseNumber(value, num);
    auto needNumber = [&](double lo) {
      return numeric && num >= lo;
    };
    if (arg == "--prompt" || arg == "-p") {
      o.prompt = value;
      havePrompt = true;
    } else if (arg == "--prompt-file") {
      promptFile = value;
    } else if (arg == "--dump-logits") {
      o.dumpLogits = value;
    } else if (arg == "-n") {
      if (!needNumber(1) || num != static_cast<int>(num))
        return fail("-n must be a whole number >= 1 (got '" + value + "')");
      o.steps = static_cast<int>(num);
    } else if (arg == "--temp") {
      if (!needNumber(0))
        return fail("--temp must be a number >= 0 (got '" + value + "')");
      o.sampler.temperature = static_cast<float>(num);
    } else if (arg == "--top-k") {
      if (!needNumber(0))
        return fail("--top-k must be a whole number >= 0 (got '" + value + "')");
      o.sampler.top_k = static_cast<int32_t>(num);
    } else if (arg == "--top-p") {
      if (!needNumber(0))
        return fail("--top-p must be a number in (0, 1] (got '" + value + "')");
      o.sampler.top_p = static_cast<float>(num);
    } else if (arg == "--seed") {
      if (!needNumber(0))
        return fail("--seed must be a whole number >= 0 (got '" + value + "')");
      o.sampler.seed = static_cast<uint64_t>(num);
    } else if (arg == "--max-context") {
      if (!needNumber(0))
        return fail("--max-context must be a whole number >= 0 (got '" +
                    value + "')");
      o.maxContext = static_cast<int32_t>(num);
    } else {
      usage(stderr);
      return fail("unknown option '" + arg + "'");
    }
  }
  if (!promptFile.empty()) {
    if (havePrompt)
      return fail("give --prompt or --prompt-file, not both");
    std::ifstream in(promptFile, std::ios::binary);
    if (!in)
      return fail(promptFile + ": cannot read");
    std::ostringstream text;
    text << in.rdbuf();
    o.prompt = text.str();
  }

  // The weights: appended to this executable, or the artifact next to it.
  std::string self = selfPath();
  std::string path = self;
  if (llmc_linked_model.artifact && *llmc_linked_model.artifact) {
    std::string dir = self.substr(0, self.rfind('/') + 1);
    path = dir + llmc_linked_model.artifact;
  }
  llmc_artifact_t *artifact = nullptr;
  if (llmc_status_t s =
          llmc_artifact_load_linked(path.c_str(), &llmc_linked_model, &artifact)) {
    int rc = fail(llmc_status_message(s));
    llmc_status_free(s);
    return rc;
  }
  std::string error;
  std::unique_ptr<llmc::Tokenizer> tok =
      llmc::artifactTokenizer(artifact, path, error);
  int rc = 0;
  if (!tok) {
    rc = fail(error);
  } else if (llmc_status_t s =
                 llmc::generate(artifact, *tok, o, stdout, stderr)) {
    rc = fail(llmc_status_message(s));
    llmc_status_free(s);
  }
  llmc_artifact_free(artifact);
  return rc;
}
