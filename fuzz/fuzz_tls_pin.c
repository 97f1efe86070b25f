/*
 * fuzz_tls_pin.c - the TLS pin text (tls_pin command arguments, --server-pin)
 * and the certificate parse behind `keysup tls pin` and the controller's
 * pin switch (curl's CERTINFO text): never crash, and a pin that parses
 * formats back to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ks_tlspin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), back[KS_TLS_PIN_TEXT], err[256];
    uint8_t h[KS_TLS_PIN_SIZE];
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (ks_tls_pin_parse(h, s) == 0) {
        ks_tls_pin_format(back, h);
        if (strcmp(back, s) != 0)
            abort(); /* two texts for one pin: a pin comparison by text would miss */
    }
    (void)ks_tls_pin_of_cert(h, data, size, err, sizeof err);
    free(s);
    return 0;
}
