/*
 * sup_shape.h - the one JSON shape of the operator API (docs/api.md,
 * "Conventions"), applied to every answer outside /v1/device/ just before
 * it is sent: the stored rows keep their own columns (epoch milliseconds,
 * 0 for "no end"), the API speaks one convention.
 */
#ifndef KEYSUP_KS_SHAPE_H
#define KEYSUP_KS_SHAPE_H

#include <jansson.h>

/* Rewrites o in place (objects and arrays, recursively). */
void sup_api_shape(json_t *o);

/* 1 when url is an operator-API path the shape applies to (device answers
 * are signed as built and keep the device protocol's fields). */
int sup_api_shape_applies(const char *url);

#endif
