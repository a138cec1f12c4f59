/*
 * comityd.c - the comity daemon: options, configuration, start-up, event
 * loop, signals.
 *
 * Exit status: 0 after SIGTERM/SIGINT; 1 for --check failures and
 * internal errors; 75 (EX_TEMPFAIL) when the store is in use or fails;
 * 78 (EX_CONFIG) when the configuration is bad, so that a supervisor
 * stops restarting it.
 */
#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "audit.h"
#include "checkpoint.h"
#include "comity.h"
#include "comityd.h"
#include "conf.h"
#include "directory.h"
#include "expiry.h"
#include "hook.h"
#include "link.h"
#include "listen.h"
#include "local.h"
#include "log.h"
#include "peer.h"
#include "queue.h"
#include "store.h"
#include "tls.h"
#include "urgent.h"
#include "work.h"

#define ERRLEN	512

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: comityd --config FILE [--check]\n"
	    "\n"
	    "Runs one authority's comity daemon in the foreground, logging to\n"
	    "stderr.  --check validates the configuration, directory,\n"
	    "certificates and key permissions without opening the store, and\n"
	    "exits 0, or 1 with the reason.\n"
	    "\n"
	    "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the\n"
	    "configuration, directory, certificates and CRL (the old ones stay\n"
	    "in force if the new ones are bad).  See comityd(8).\n");
}

/* Everything a running daemon swaps as a whole on reload. */
struct loaded {
	struct conf		*conf;
	struct directory	*dir;
	struct tls_ctx		*tls;
	uint32_t		 self_accepts;
};

static void
loaded_free(struct loaded *ld)
{
	conf_free(ld->conf);
	directory_free(ld->dir);
	if (ld->tls != NULL)
		tls_ctx_unref(ld->tls);
	memset(ld, 0, sizeof(*ld));
}

/*
 * Load and check everything a start (or reload) needs, but the store.
 */
static int
load_all(const char *path, struct loaded *ld, char *err, size_t errlen)
{
	const struct dir_entry	*self;
	long			 secs;
	int			 has;

	memset(ld, 0, sizeof(*ld));
	if ((ld->conf = conf_load(path, err, errlen)) == NULL)
		return -1;
	if ((ld->dir = directory_load(ld->conf->directory, err,
	    errlen)) == NULL)
		goto fail;
	if (ld->conf->hook != NULL && hook_check(ld->conf->hook, err,
	    errlen) != 0)
		goto fail;
	ld->tls = tls_ctx_new(ld->conf->id, ld->conf->cert, ld->conf->key,
	    ld->conf->ca, ld->conf->crl, err, errlen);
	if (ld->tls == NULL)
		goto fail;
	if (ld->conf->retired_key != NULL && tls_ctx_retire(ld->tls,
	    ld->conf->retired_key, err, errlen) != 0)
		goto fail;
	if ((self = directory_find(ld->dir, ld->conf->id)) != NULL)
		ld->self_accepts = self->accepts;
	if (ld->conf->crl != NULL &&
	    tls_crl_next_update(ld->conf->crl, &secs, &has) == 0 && has &&
	    secs < 7 * 86400)
		log_warnx("CRL %s: nextUpdate %s in %ld hours", ld->conf->crl,
		    secs < 0 ? "passed" : "due", (secs < 0 ? -secs : secs) /
		    3600);
	return 0;
fail:
	loaded_free(ld);
	return -1;
}

static const char	*config_path;
static struct event	*ev_term, *ev_int, *ev_hup;

/*
 * Every peer link and local client is a descriptor, and a supervisor's
 * usual soft limit (1024) is below [limits] max_connections by default:
 * take the hard limit.
 */
static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
}

static void
stop(int sig)
{
	if (cd->stopping)
		return;
	log_info("signal %d: stopping", sig);
	cd->stopping = 1;
	listen_stop();
	local_close();
	link_close_all("daemon stopping");
	event_base_loopexit(cd->base, NULL);
}

static void
reload(void)
{
	struct loaded	 ld, old;
	char		 err[ERRLEN], detail[ERRLEN + 32];
	int		 rotated;

	if (load_all(config_path, &ld, err, sizeof(err)) != 0) {
		log_warnx("reload refused, the running configuration stays: "
		    "%s", err);
		snprintf(detail, sizeof(detail), "reload refused: %s", err);
		queue_audit(AUDIT_CONFIG_REJECTED, NULL, NULL, detail);
		return;
	}
	if (strcmp(ld.conf->id, cd->conf->id) != 0 ||
	    strcmp(ld.conf->store_path, cd->conf->store_path) != 0 ||
	    strcmp(ld.conf->socket, cd->conf->socket) != 0 ||
	    strcmp(ld.conf->listen_host, cd->conf->listen_host) != 0 ||
	    strcmp(ld.conf->listen_port, cd->conf->listen_port) != 0) {
		log_warnx("reload refused: authority id, store, socket and "
		    "listen address change only with a restart");
		queue_audit(AUDIT_CONFIG_REJECTED, NULL, NULL,
		    "reload refused: id, store, socket or listen changed");
		loaded_free(&ld);
		return;
	}
	rotated = X509_cmp(ld.tls->own_cert, cd->tls->own_cert) != 0;
	old.conf = cd->conf;
	old.dir = cd->dir;
	old.tls = cd->tls;
	cd->conf = ld.conf;
	cd->dir = ld.dir;
	cd->tls = ld.tls;
	cd->self = cd->conf->id;
	cd->self_accepts = ld.self_accepts;
	log_setlevel(cd->conf->log_level);
	/*
	 * Live links keep their SSL (and its context) until they close, but
	 * after our own certificate changed, what we sign (receipts,
	 * requests) no longer matches the certificate they authenticated:
	 * a peer whose directory still lists the old one would refuse it.
	 * Reconnect, presenting the new certificate.
	 */
	if (rotated)
		link_close_existing("our certificate changed, reconnecting");
	peer_reload();
	loaded_free(&old);
	snprintf(detail, sizeof(detail), "reloaded %s: %zu authorities",
	    config_path, cd->dir->n);
	log_info("%s", detail);
	queue_audit(AUDIT_CONFIG_LOADED, NULL, NULL, detail);
}

/*
 * heap_policy - buffers of up to HEAP_ARENA_MAX (frames, documents, CMS
 * output) come from glibc's arenas and are reused once freed, instead of
 * a fresh mapping each time whose every page the kernel faults in and
 * clears anew; an arena hands back the free memory at its top beyond the
 * same amount.  The store hands back the rest at most every 250 ms and
 * after a burst (heap_release() in store.c).  Left to itself glibc sets
 * both limits from the sizes freed so far, and a document's buffers went
 * back and forth to the kernel: a third of the daemons' CPU per 1 MiB
 * document.
 */
#define HEAP_ARENA_MAX	(4u << 20)

static void
heap_policy(void)
{
	/* another allocator (a sanitizer's) refuses: it has its own ways */
	if (mallopt(M_MMAP_THRESHOLD, HEAP_ARENA_MAX) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, HEAP_ARENA_MAX) != 1)
		log_debug("heap thresholds not set: not glibc's allocator");
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGHUP)
		reload();
	else
		stop((int)sig);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct loaded	 ld;
	char		 err[ERRLEN], detail[ERRLEN];
	int		 ch, check = 0, rc;

	while ((ch = getopt_long(argc, argv, "c:nhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s\n", COMITY_VERSION_STRING);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (config_path == NULL || optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	/* a peer gone without close_notify must not kill us (EPIPE) */
	signal(SIGPIPE, SIG_IGN);
	log_init("comityd", LOG_LVL_INFO);
	heap_policy();
	raise_nofile();

	if (load_all(config_path, &ld, err, sizeof(err)) != 0) {
		if (check) {
			fprintf(stderr, "comityd: %s\n", err);
			return 1;
		}
		log_error("bad configuration: %s", err);
		return EX_CONFIG;
	}
	if (check) {
		printf("%s: configuration OK: authority %s, %zu directory "
		    "entries, listen %s:%s\n", config_path, ld.conf->id,
		    ld.dir->n, ld.conf->listen_host, ld.conf->listen_port);
		loaded_free(&ld);
		return 0;
	}
	log_setlevel(ld.conf->log_level);
	cd->conf = ld.conf;
	cd->dir = ld.dir;
	cd->tls = ld.tls;
	cd->self = cd->conf->id;
	cd->self_accepts = ld.self_accepts;

	if ((cd->base = event_base_new()) == NULL)
		fatalx("cannot create the event base");
	cd->dns = evdns_base_new(cd->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (cd->dns == NULL)	/* no resolv.conf: numeric endpoints only */
		cd->dns = evdns_base_new(cd->base, 0);

	rc = store_open(cd->conf->store_path, cd->conf->map_size, &cd->store,
	    err, sizeof(err));
	if (rc != 0) {
		log_error("store %s: %s", cd->conf->store_path, err);
		return EX_TEMPFAIL;
	}
	store_set_event_base(cd->store, cd->base);
	hook_init();
	work_init(cd->base, (unsigned int)cd->conf->workers);
	if ((rc = queue_init()) != 0) {
		log_error("store %s: cannot initialise (error %d)",
		    cd->conf->store_path, rc);
		return EX_TEMPFAIL;
	}
	expiry_init();
	checkpoint_init();
	urgent_init();
	snprintf(detail, sizeof(detail), "loaded %s: %zu authorities",
	    config_path, cd->dir->n);
	queue_audit(AUDIT_CONFIG_LOADED, NULL, NULL, detail);

	peer_init();
	if (local_listen(err, sizeof(err)) != 0) {
		log_error("%s", err);
		return EX_CONFIG;
	}
	if (listen_start(err, sizeof(err)) != 0) {
		log_error("%s", err);
		local_close();
		return EX_CONFIG;
	}
	ev_term = evsignal_new(cd->base, SIGTERM, signal_cb, NULL);
	ev_int = evsignal_new(cd->base, SIGINT, signal_cb, NULL);
	ev_hup = evsignal_new(cd->base, SIGHUP, signal_cb, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);
	log_info("%s ready: authority %s, store %s, socket %s",
	    COMITY_VERSION_STRING, cd->self, cd->conf->store_path,
	    cd->conf->socket);
	peer_start();

	event_base_dispatch(cd->base);
	expiry_stop();
	urgent_stop();
	hook_stop();

	/* let the jobs given to the pool and what is queued for the store
	 * finish and commit, then say so */
	work_stop();
	queue_audit(AUDIT_STOPPED, NULL, NULL, "clean stop");
	while (store_batch_pending(cd->store) > 0)
		store_batch_flush(cd->store);
	peer_free_all();
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	store_close(cd->store);
	evdns_base_free(cd->dns, 0);
	event_base_free(cd->base);
	tls_ctx_unref(cd->tls);
	directory_free(cd->dir);
	log_info("stopped");
	conf_free(cd->conf);
	return 0;
}
