/*
 * fuzz-main.c — runs a fuzz target over corpus files given as arguments
 * (files or directories), so every corpus runs as an ordinary test without
 * a fuzzing engine. Built with -fsanitize=fuzzer this file is not used.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "re");
    uint8_t *buf;
    long n;

    if (!f) {
        perror(path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
        fclose(f);
        return -1;
    }
    buf = malloc((size_t) n + 1);
    if (!buf || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t) n);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    int files = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            struct dirent **names;
            int n = scandir(argv[i], &names, NULL, alphasort);
            if (n < 0) {
                perror(argv[i]);
                return 1;
            }
            for (int k = 0; k < n; k++) {
                char path[4096];
                if (names[k]->d_name[0] != '.') {
                    snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
                    if (run_file(path) < 0)
                        return 1;
                    files++;
                }
                free(names[k]);
            }
            free(names);
        } else {
            if (run_file(argv[i]) < 0)
                return 1;
            files++;
        }
    }
    printf("%d inputs ran\n", files);
    return files > 0 ? 0 : 1;
}
