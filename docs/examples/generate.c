/* generate.c - a C program with a model compiled into it (llmc compile
 * --emit obj). Greedy generation through the llmc runtime's C API:
 *
 *   llmc compile stories260K.bin --tokenizer tok512.bin --emit obj -o story.o
 *   cc -I<llmc>/runtime/include -I. generate.c story.o libllmc_runtime.a \
 *      -lstdc++ -L/usr/lib/llvm-22/lib -lomp -lm -o generate
 *   ./generate "Once upon a time" 64
 *
 * story.h declares llmc_model_story; story.llmc (weights and tokenizer) is
 * looked up next to the program. */
#include "story.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(llmc_status_t status) {
  if (!status)
    return 0;
  fprintf(stderr, "generate: error: %s\n", llmc_status_message(status));
  llmc_status_free(status);
  return 1;
}

int main(int argc, char **argv) {
  const char *prompt = argc > 1 ? argv[1] : "Once upon a time";
  int steps = argc > 2 ? atoi(argv[2]) : 64;
  /* The weights file sits next to this program. */
  char path[4096];
  const char *slash = strrchr(argv[0], '/');
  snprintf(path, sizeof(path), "%.*s%s", slash ? (int)(slash - argv[0] + 1) : 0,
           argv[0], "story.llmc");

  llmc_artifact_t *artifact = NULL;
  llmc_tokenizer_t *tokenizer = NULL;
  llmc_session_t *session = NULL;
  llmc_sampler_t *sampler = NULL;
  llmc_model_info_t info;
  llmc_sampler_params_t greedy = {0.0f, 0, 1.0f, 0};
  int32_t ids[512];
  size_t n = 0;
  int rc = 1;
  if (check(llmc_artifact_load_linked(path, &llmc_model_story, &artifact)) ||
      check(llmc_artifact_info(artifact, &info)) ||
      check(llmc_tokenizer_create(artifact, &tokenizer)) ||
      check(llmc_tokenizer_encode(tokenizer, prompt, strlen(prompt), 1, ids,
                                  sizeof(ids) / sizeof(ids[0]), &n)) ||
      check(llmc_session_create(artifact, 0, &session)) ||
      check(llmc_sampler_create(&greedy, &sampler)))
    goto done;

  fputs(prompt, stdout);
  const float *logits;
  if (check(llmc_session_forward_last(session, ids, (int32_t)n, &logits)))
    goto done;
  int32_t token = ids[n - 1];
  for (int i = 0; i < steps; ++i) {
    int32_t next;
    const char *piece;
    size_t length;
    if (check(llmc_sampler_sample(sampler, logits, info.vocab_size, &next)))
      goto done;
    if (next == info.bos_id || next == info.eos_id)
      break;
    if (check(llmc_tokenizer_decode(tokenizer, token, next, &piece, &length)))
      goto done;
    fwrite(piece, 1, length, stdout);
    token = next;
    if (i + 1 < steps &&
        check(llmc_session_forward(session, &token, 1, &logits)))
      goto done;
  }
  fputs("\n", stdout);
  rc = 0;
done:
  llmc_sampler_free(sampler);
  llmc_session_free(session);
  llmc_tokenizer_free(tokenizer);
  llmc_artifact_free(artifact);
  return rc;
}
