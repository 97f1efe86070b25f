/*
 * api_devaudit.h - POST /v1/device/audit (api_devaudit.c), in the device
 * route table (api_device.c).
 */
#ifndef KEYSUP_API_DEVAUDIT_H
#define KEYSUP_API_DEVAUDIT_H

#include "sup_api.h"
#include "sup_schema.h"

extern const sup_schema api_dev_audit_schema;
void api_dev_audit(sup_req *rq, sup_resp *rs);

#endif
