/*
 * error.c - error strings and the names of types and states.
 */
#include <stddef.h>
#include <strings.h>

#include "internal.h"

static const char *const errstr[] = {
	[0] = "success",
	[1] = "invalid argument or request",
	[2] = "out of memory",
	[3] = "I/O error on the daemon's socket",
	[4] = "store full",
	[5] = "no such request",
	[6] = "conflict: same id or key with other content",
	[7] = "not possible in the request's current state",
	[8] = "malformed message on the daemon's socket",
	[9] = "cannot connect to the daemon",
	[10] = "no answer from the daemon in time",
	[11] = "authority not in the directory",
	[12] = "request too large",
	[13] = "permission denied",
	[14] = "temporary failure, try again later",
	[15] = "bad configuration",
	[16] = "signature, seal or certificate failure",
	[17] = "stored data failed its checks",
	[18] = "request type not accepted by the counterpart",
	[19] = "the request has expired",
	[20] = "internal error",
};
#define NERRSTR	(sizeof(errstr) / sizeof(errstr[0]))

COMITY_EXPORT const char *
comity_strerror(int err)
{
	if (err > 0 || (size_t)-(long)err >= NERRSTR)
		return "unknown error";
	return errstr[-err];
}

static const struct {
	const char	*name;
	int		 type;
} type_names[] = {
	/* the first name of each type is its canonical name */
	{ "mla",				COMITY_TYPE_MLA },
	{ "extradition",			COMITY_TYPE_EXTRADITION },
	{ "confiscation",			COMITY_TYPE_CONFISCATION },
	{ "transfer",				COMITY_TYPE_TRANSFER },
	{ "transfer_of_sentenced_persons",	COMITY_TYPE_TRANSFER },
	{ "joint_investigation",		COMITY_TYPE_JOINT_INVESTIGATION },
	{ "jit",				COMITY_TYPE_JOINT_INVESTIGATION },
	{ "other",				COMITY_TYPE_OTHER },
};
#define NTYPES	(sizeof(type_names) / sizeof(type_names[0]))

COMITY_EXPORT const char *
comity_type_name(int type)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return "unspecified";
}

COMITY_EXPORT int
comity_type_from_name(const char *name)
{
	if (name == NULL)
		return COMITY_EINVAL;
	for (size_t i = 0; i < NTYPES; i++)
		if (strcasecmp(name, type_names[i].name) == 0)
			return type_names[i].type;
	return COMITY_EINVAL;
}

static const char *const state_names[] = {
	[COMITY_STATE_QUEUED] = "QUEUED",
	[COMITY_STATE_SENT] = "SENT",
	[COMITY_STATE_DELIVERED] = "DELIVERED",
	[COMITY_STATE_RETRIEVED] = "RETRIEVED",
	[COMITY_STATE_REJECTED] = "REJECTED",
	[COMITY_STATE_EXPIRED] = "EXPIRED",
	[COMITY_STATE_CANCELLED] = "CANCELLED",
	[COMITY_STATE_RECEIVED] = "RECEIVED",
};
#define NSTATES	(sizeof(state_names) / sizeof(state_names[0]))

COMITY_EXPORT const char *
comity_state_name(int state)
{
	if (state <= 0 || (size_t)state >= NSTATES)
		return "UNKNOWN";
	return state_names[state];
}

COMITY_EXPORT int
comity_state_from_name(const char *name)
{
	if (name == NULL)
		return COMITY_EINVAL;
	for (size_t i = 1; i < NSTATES; i++)
		if (strcasecmp(name, state_names[i]) == 0)
			return (int)i;
	return COMITY_EINVAL;
}
