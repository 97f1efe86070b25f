/*
 * ks_auth_actions.c - the privileged-action catalogue: one read-only table,
 * the single source of what each action needs. Lives in flash on a
 * microcontroller. docs/auth.md prints it.
 *
 * Why these session timeouts: an action that moves money or opens a door
 * is authorised by a supervisor standing at the terminal, so a session
 * covers it only for a few minutes after sign-on; actions that change the
 * device itself (firmware, users, lockout reset) always want a fresh key
 * (0), and two-supervisor actions are one-shot by nature.
 *
 * Licence features: every action needs BASE ("the controller may run at
 * all") plus its own (calibration, firmware, two_man for the two-supervisor
 * actions), except the two recovery actions (clear a pending transaction,
 * reset a lockout), which a lapsed licence must never block. A feature is
 * checked only where the supervisor enforces it (ks_auth_licence_policy).
 */
#include <keysup/ks_auth.h>

#define SUP KS_PRIV_SUPERVISOR
#define B KS_FEAT_BASE
#define CAL(n, id) \
    {id, "cal_c0" #n, SUP | KS_PRIV_CALIBRATE, KS_ACT_F_SEALED, 600, B | KS_FEAT_CALIBRATION}

static const ks_action_def actions[KS_ACT_COUNT - 1] = {
    {KS_ACT_ACCESS, "access", KS_PRIV_OPERATOR, 0, 0, B},
    {KS_ACT_DOOR_OVERRIDE, "door_override", SUP | KS_PRIV_OVERRIDE, 0, 60, B},
    {KS_ACT_VOID, "void", SUP | KS_PRIV_VOID, 0, 300, B},
    {KS_ACT_REFUND, "refund", SUP | KS_PRIV_REFUND, 0, 300, B},
    {KS_ACT_PRICE_OVERRIDE, "price_override", SUP | KS_PRIV_PRICE, 0, 300, B},
    {KS_ACT_Z_REPORT, "z_report", SUP | KS_PRIV_Z_REPORT, KS_ACT_F_TRANSACTION, 300, B},
    CAL(1, KS_ACT_CAL_C01),
    CAL(2, KS_ACT_CAL_C02),
    CAL(3, KS_ACT_CAL_C03),
    CAL(4, KS_ACT_CAL_C04),
    CAL(5, KS_ACT_CAL_C05),
    CAL(6, KS_ACT_CAL_C06),
    CAL(7, KS_ACT_CAL_C07),
    {KS_ACT_PARAMETER, "parameter_change", SUP | KS_PRIV_PARAMETER, 0, 300, B},
    {KS_ACT_FIRMWARE, "firmware_update", SUP | KS_PRIV_FIRMWARE, KS_ACT_F_TWO_SUPERVISORS, 0,
     B | KS_FEAT_FIRMWARE | KS_FEAT_TWO_MAN},
    {KS_ACT_USER_MGMT, "user_management", SUP | KS_PRIV_USER_MGMT, KS_ACT_F_TWO_SUPERVISORS, 0,
     B | KS_FEAT_TWO_MAN},
    {KS_ACT_CLEAR_PENDING, "clear_pending", SUP, KS_ACT_F_WHILE_PENDING, 300, 0},
    {KS_ACT_SESSION, "supervisor_session", SUP, KS_ACT_F_WHILE_PENDING, 900, B},
    {KS_ACT_UNLOCK, "lockout_reset", SUP | KS_PRIV_ADMIN, KS_ACT_F_WHILE_PENDING, 0, 0},
};

const ks_action_def *ks_action_find(uint16_t id)
{
    /* The table is in id order from 1: index directly, then confirm. */
    if (id == KS_ACT_NONE || id >= KS_ACT_COUNT)
        return NULL;
    return actions[id - 1].id == id ? &actions[id - 1] : NULL;
}

const ks_action_def *ks_action_at(uint32_t i)
{
    return i < KS_ACT_COUNT - 1 ? &actions[i] : NULL;
}

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

const ks_action_def *ks_action_by_name(const char *name, size_t len)
{
    for (uint32_t i = 0; i < KS_ACT_COUNT - 1; i++) {
        const char *n = actions[i].name;
        size_t j = 0;
        while (j < len && n[j] && lower((unsigned char)name[j]) == n[j])
            j++;
        if (j == len && n[j] == 0)
            return &actions[i];
    }
    return NULL;
}

int ks_action_needs_supervisor(const ks_action_def *a)
{
    return (a->privileges & KS_PRIV_SUPERVISOR) != 0;
}

static const char *const feature_names[] = {"base", "firmware", "calibration", "two_man"};

const char *ks_feature_name(unsigned bit)
{
    return bit < sizeof feature_names / sizeof feature_names[0] ? feature_names[bit] : NULL;
}
