/*
 * ks_sdnotify.h - sd_notify(3) without libsystemd: tells the service
 * manager (Type=notify units) that a daemon is ready or stopping.
 */
#ifndef KS_SDNOTIFY_H
#define KS_SDNOTIFY_H

/* Sends STATE ("READY=1", "STOPPING=1", "STATUS=...") to $NOTIFY_SOCKET.
 * 0 when sent or when not started by a service manager (no variable);
 * -1 when the variable is set but the message could not be sent. */
int ks_sd_notify(const char *state);

#endif
