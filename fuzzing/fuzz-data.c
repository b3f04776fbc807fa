/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz-data.c: the data plugin's data format on hostile expressions.
 *
 * The input is the text of data= (cut at its first NUL, at most 4096
 * bytes); $v, $w and $loop are defined, others come from the
 * environment.  Inputs with '<' are skipped: <(SCRIPT) would run them
 * as shell commands and <FILE would read the fuzzer's files.  The parse
 * must fail cleanly or give a blob whose pieces lie inside its size.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
fuzz_var(void *opaque, const char *name)
{
    if (strcmp(name, "v") == 0)
        return "1 2 3 @^8 \"ab\"*3";
    if (strcmp(name, "w") == 0)
        return "\\a \\a [1:] $v";
    if (strcmp(name, "loop") == 0)
        return "1 $loop";
    return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct data_blob b;
    char *text;

    if (size > 4096 || memchr(data, '<', size))
        return 0;
    text = malloc(size + 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    if (data_format_parse(text, fuzz_var, NULL, &b) == 0) {
        if (b.size > DATA_MAX_SIZE)
            abort();
        for (size_t k = 0; k < b.nsegs; k++)
            if (b.segs[k].len == 0 || b.segs[k].off > b.size ||
                b.segs[k].len > b.size - b.segs[k].off)
                abort(); /* a piece outside the blob */
        data_blob_clear(&b);
    }
    free(text);
    return 0;
}
