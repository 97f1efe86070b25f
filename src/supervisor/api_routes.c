/*
 * api_routes.c - every declared route table (sup_api_route), in the order
 * the dispatcher searches them and docs/openapi.json lists them. A new
 * api_*.c file adds its table here.
 */
#include "sup_api.h"

const sup_api_route *const sup_api_tables[] = {
    sup_routes_ops, sup_routes_keys, sup_routes_ctrl, sup_routes_device, sup_routes_admin,
    sup_routes_diag, sup_routes_console, sup_routes_fleet, sup_routes_operators,
    sup_routes_decisions, sup_routes_keyfile, sup_routes_licences, sup_routes_sites,
    sup_routes_published,
    sup_routes_licence_policy,
    sup_routes_watch,
};
const size_t sup_api_ntables = sizeof sup_api_tables / sizeof sup_api_tables[0];
