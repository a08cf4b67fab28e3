/*
 * fuzz/standalone_main.c -- replay driver for builds without libFuzzer
 * (the c-ares test/ares-fuzz.c idea): calls LLVMFuzzerTestOneInput once
 * for every file named on the command line and for every regular file
 * inside the directories named there (one level, in name order).
 * Arguments starting with '-' are ignored, so libFuzzer-style options
 * can be passed to both builds.  Inputs over MAX_INPUT bytes are an
 * error.  Prints how many inputs ran; exits 1 if nothing ran or a path
 * could not be read (an invariant failure aborts on the spot).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#define MAX_INPUT (1024u * 1024u)

static unsigned long g_ran;
static int g_errors;

static void run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  size_t n;
  if (!f) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    g_errors++;
    return;
  }
  /* one byte more than allowed, to tell "too large" apart */
  buf = malloc(MAX_INPUT + 1);
  if (!buf) {
    fclose(f);
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  n = fread(buf, 1, MAX_INPUT + 1, f);
  if (ferror(f) || n > MAX_INPUT) {
    fprintf(stderr, "%s: %s\n", path,
            ferror(f) ? "read error" : "larger than 1 MiB");
    g_errors++;
  } else {
    /* an exact-size copy, so ASan sees any read past the end */
    uint8_t *in = malloc(n ? n : 1);
    if (!in) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
    if (n) {
      memcpy(in, buf, n);
    }
    (void)LLVMFuzzerTestOneInput(in, n);
    free(in);
    g_ran++;
  }
  free(buf);
  fclose(f);
}

static int not_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

static void run_path(const char *path) {
  struct stat st;
  struct dirent **list = NULL;
  int n, i;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    g_errors++;
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    run_file(path);
    return;
  }
  n = scandir(path, &list, not_hidden, alphasort);
  if (n < 0) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    g_errors++;
    return;
  }
  for (i = 0; i < n; i++) {
    size_t len = strlen(path) + strlen(list[i]->d_name) + 2;
    char *full = malloc(len);
    if (!full) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
    snprintf(full, len, "%s/%s", path, list[i]->d_name);
    if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
      run_file(full);
    }
    free(full);
    free(list[i]);
  }
  free(list);
}

int main(int argc, char **argv) {
  int i;
  const char *name = strrchr(argv[0], '/');
  name = name ? name + 1 : argv[0];
  for (i = 1; i < argc; i++) {
    if (argv[i][0] != '-') {
      run_path(argv[i]);
    }
  }
  printf("%s: %lu inputs ran\n", name, g_ran);
  if (g_errors || g_ran == 0) {
    fprintf(stderr, "%s: %s\n", name,
            g_errors ? "some paths could not be read" : "no inputs");
    return 1;
  }
  return 0;
}
