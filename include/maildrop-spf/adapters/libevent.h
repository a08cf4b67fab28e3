/*
 * maildrop-spf/adapters/libevent.h -- drive checks from a libevent 2.x loop.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Header-only glue, in the style of hiredis' adapters/: every function is
 * static, so libmaildrop-spf and libmaildrop-spf-cares never link libevent;
 * this file is compiled against the application's own libevent.  Link the
 * program with maildrop-spf, maildrop-spf-cares and libevent_core (or
 * libevent).
 *
 * What it connects
 * ----------------
 *   - the c-ares backend's socket and timer requests (mdspf_cares_set_loop):
 *     one persistent struct event per socket, for EV_READ and/or EV_WRITE
 *     as the backend asks, plus one timer event; ready sockets go to
 *     mdspf_cares_process_fd(), the timer to mdspf_cares_process_timeout();
 *   - the context's per-check time budget (mdspf_ctx_set_timer): a second
 *     timer event that calls mdspf_ctx_process_timeouts().
 *
 * Usage
 * -----
 *     mdspf_libevent *le;
 *     int rc = mdspf_libevent_attach(cares, ctx, base, &le);
 *     ... mdspf_check_start(chk, cb, user) as often as you like,
 *         from anywhere on the loop's thread, callbacks included ...
 *     event_base_dispatch(base);
 *
 * Check callbacks then run inside event_base_dispatch(), on the loop's
 * thread.  They may start new checks and free checks (their own included):
 * the adapter tolerates socket and timer requests made while it is itself
 * delivering an event.
 *
 * c may be NULL (only the budget timer is hooked: e.g. a context over some
 * other resolver), and ctx may be NULL (only the backend is hooked).  A
 * backend has one set of loop hooks, so one adapter per backend; further
 * contexts sharing that backend get mdspf_libevent_attach(NULL, ctx2, base,
 * &le2) for their budget timers.
 *
 * Teardown -- two safe orders
 * ---------------------------
 * The backend and the context keep pointers to the adapter, and the
 * adapter keeps pointers to them; neither tells the adapter when it is
 * freed, so the order matters:
 *
 *   (a) Idle: when no check is running (all completed, cancelled or
 *       freed: mdspf_cares_pending(c) == 0), mdspf_libevent_detach(le)
 *       removes both hooks and frees the adapter; then free ctx, backend
 *       and base in any order.  While queries are outstanding, detach
 *       changes nothing and returns MDSPF_E_STATE.
 *   (b) Always (e.g. shutdown with checks in flight): mdspf_ctx_free(ctx)
 *       -- it cancels the running checks, no callbacks; their handles
 *       stay valid until you free them --, then
 *       mdspf_cares_free(c) -- it tells the adapter to stop watching every
 *       socket --, then mdspf_libevent_free(le), which frees the events and
 *       the adapter without touching ctx or c.  Do not run the loop between
 *       these calls.
 *
 * One sequence that covers both, run outside the loop's callbacks:
 *
 *     if (mdspf_libevent_detach(le) == MDSPF_OK)
 *       le = NULL;                 (a) done; else (b):
 *     mdspf_ctx_free(ctx);
 *     mdspf_cares_free(c);
 *     mdspf_libevent_free(le);     NULL is fine
 *     event_base_free(base);       last: the adapter's events live in it
 *
 * From inside a check callback the backend refuses new hooks while it is
 * delivering answers, so detach returns MDSPF_E_RECURSIVE there (leave the
 * loop with event_base_loopbreak and detach afterwards).  Where it does
 * succeed inside a callback (one run by the budget timer, or an adapter
 * without backend), the adapter disarms its events at once and frees its
 * memory when the libevent callback that is running returns.
 *
 * Memory: the adapter allocates one small struct, a table with one entry
 * per socket the backend uses at a time (a few: one per server and
 * transport), and the struct events (through libevent).  It uses
 * MDSPF_LIBEVENT_REALLOC(ptr, size) and MDSPF_LIBEVENT_FREE(ptr), by
 * default libc's realloc and free; define both before including this file
 * to use another allocator.
 *
 * Threads: the adapter, the backend, the context and the event base are
 * used from one thread (the loop's), as the library requires anyway.
 */
#ifndef MAILDROP_SPF_ADAPTERS_LIBEVENT_H
#define MAILDROP_SPF_ADAPTERS_LIBEVENT_H

#include <maildrop-spf/cares.h>
#include <maildrop-spf/spf.h>

#include <event2/event.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(MDSPF_LIBEVENT_REALLOC) != defined(MDSPF_LIBEVENT_FREE)
#error "define both MDSPF_LIBEVENT_REALLOC and MDSPF_LIBEVENT_FREE, or neither"
#endif
#ifndef MDSPF_LIBEVENT_REALLOC
#define MDSPF_LIBEVENT_REALLOC(ptr, size) realloc((ptr), (size))
#define MDSPF_LIBEVENT_FREE(ptr) free(ptr)
#endif

/* Every function here is static; unused ones must not warn. */
#if defined(__GNUC__) || defined(__clang__)
#define MDSPF_LIBEVENT_FN static inline __attribute__((unused))
#else
#define MDSPF_LIBEVENT_FN static inline
#endif

/* Casts that also pass C++ -Wold-style-cast. */
#ifdef __cplusplus
#define MDSPF_LIBEVENT_CAST(type, x) static_cast<type>(x)
#else
#define MDSPF_LIBEVENT_CAST(type, x) ((type)(x))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One socket the backend asked us to watch.  Entries are reused: an entry
 * whose fd is -1 is free, and its struct event (if any) is kept, not
 * armed, for the next socket. */
typedef struct mdspf_libevent_io {
  int fd;           /* -1: entry free */
  short what;       /* EV_READ|EV_WRITE armed now; 0: not armed */
  struct event *ev; /* NULL until first needed; freed with the adapter */
} mdspf_libevent_io;

/** The adapter.  Allocated by mdspf_libevent_attach; the fields are
 *  private (they are visible only because the adapter is header-only). */
typedef struct mdspf_libevent {
  mdspf_cares *c;             /* NULL once detached/freed */
  mdspf_ctx *ctx;             /* NULL once detached/freed */
  struct event_base *base;
  struct event *cares_timer;  /* c-ares timeouts and retries */
  struct event *budget_timer; /* the context's check budgets */
  mdspf_libevent_io *io;      /* socket table, nio entries used */
  size_t nio, capio;
  unsigned depth; /* > 0 while one of our libevent callbacks runs */
  int dead;       /* freed while depth > 0: release on the way out */
  int status;     /* first failure inside a hook, MDSPF_OK if none */
} mdspf_libevent;

/* ---- internals ------------------------------------------------------- */

MDSPF_LIBEVENT_FN void mdspf_libevent__fail(mdspf_libevent *le, int rc) {
  if (le->status == MDSPF_OK) {
    le->status = rc;
  }
}

/* Free everything.  Only when no callback of ours is on the stack. */
MDSPF_LIBEVENT_FN void mdspf_libevent__destroy(mdspf_libevent *le) {
  size_t i;
  for (i = 0; i < le->nio; i++) {
    if (le->io[i].ev) {
      event_free(le->io[i].ev); /* also removes it from the base */
    }
  }
  if (le->cares_timer) {
    event_free(le->cares_timer);
  }
  if (le->budget_timer) {
    event_free(le->budget_timer);
  }
  MDSPF_LIBEVENT_FREE(le->io);
  MDSPF_LIBEVENT_FREE(le);
}

/* Disarm every event without freeing any (safe inside their callbacks). */
MDSPF_LIBEVENT_FN void mdspf_libevent__disarm(mdspf_libevent *le) {
  size_t i;
  for (i = 0; i < le->nio; i++) {
    if (le->io[i].ev && le->io[i].what) {
      event_del(le->io[i].ev);
    }
    le->io[i].what = 0;
    le->io[i].fd = -1;
  }
  if (le->cares_timer) {
    evtimer_del(le->cares_timer);
  }
  if (le->budget_timer) {
    evtimer_del(le->budget_timer);
  }
}

/* Every libevent callback of ours brackets its library call with
 * depth++ / __leave(), so a detach or free requested from inside (by a
 * check callback) only marks the adapter; the outermost callback frees
 * it on the way out and touches nothing afterwards. */
MDSPF_LIBEVENT_FN void mdspf_libevent__leave(mdspf_libevent *le) {
  le->depth--;
  if (le->depth == 0 && le->dead) {
    mdspf_libevent__destroy(le);
  }
}

/*
 * A timer request (ms < 0: disarm).  A timer that is already set to go
 * off no later than the new request asks is left alone: re-adding it
 * would take it off libevent's active list when it is already due, so a
 * backend that re-requests its timer on every query could starve its own
 * timeouts on a busy loop.  Going off early is harmless: the callbacks
 * below then re-arm from the source (mdspf_cares_timeout,
 * mdspf_ctx_timeout).
 */
MDSPF_LIBEVENT_FN void mdspf_libevent__arm(mdspf_libevent *le,
                                           struct event *ev, long ms) {
  struct timeval tv, when, now, want;
  if (le->dead || !ev) {
    return;
  }
  if (ms < 0) {
    evtimer_del(ev);
    return;
  }
  tv.tv_sec = MDSPF_LIBEVENT_CAST(time_t, ms / 1000);
  /* int: converts to every tv_usec type without a warning */
  tv.tv_usec = MDSPF_LIBEVENT_CAST(int, (ms % 1000) * 1000);
  /* Both times below are libevent's (cached) view, mapped the same way. */
  if (evtimer_pending(ev, &when) &&
      event_base_gettimeofday_cached(le->base, &now) == 0) {
    /* (evutil_timeradd may expand to BSD timeradd, not always declared) */
    want.tv_sec = now.tv_sec + tv.tv_sec;
    want.tv_usec = now.tv_usec + tv.tv_usec;
    if (want.tv_usec >= 1000000) {
      want.tv_sec++;
      want.tv_usec -= 1000000;
    }
    if (when.tv_sec < want.tv_sec ||
        (when.tv_sec == want.tv_sec && when.tv_usec <= want.tv_usec)) {
      return;
    }
  }
  if (evtimer_add(ev, &tv) != 0) { /* re-schedules a pending timer */
    mdspf_libevent__fail(le, MDSPF_E_STATE);
  }
}

/* A socket is ready. */
MDSPF_LIBEVENT_FN void mdspf_libevent__on_io(evutil_socket_t fd, short what,
                                             void *arg) {
  mdspf_libevent *le = MDSPF_LIBEVENT_CAST(mdspf_libevent *, arg);
  if (le->dead || !le->c) {
    return;
  }
  le->depth++;
  /* May deliver answers: check callbacks run in here, and may start or
   * free checks, which makes the backend call __watch and __cares_timer
   * for this socket or others.  The table may be changed or reallocated
   * meanwhile, so nothing from it is held across this call. */
  mdspf_cares_process_fd(le->c, MDSPF_LIBEVENT_CAST(int, fd),
                         (what & EV_READ) != 0, (what & EV_WRITE) != 0);
  mdspf_libevent__leave(le);
}

/* The c-ares timer fired. */
MDSPF_LIBEVENT_FN void mdspf_libevent__on_cares_timer(evutil_socket_t fd,
                                                      short what, void *arg) {
  mdspf_libevent *le = MDSPF_LIBEVENT_CAST(mdspf_libevent *, arg);
  (void)fd;
  (void)what;
  if (le->dead || !le->c) {
    return;
  }
  le->depth++;
  mdspf_cares_process_timeout(le->c);
  /* libevent timers can fire a little early by the backend's clock
   * (libevent measures from the time cached before the callbacks of
   * this round ran).  If nothing timed out yet and the backend did not
   * re-request, it still needs a pass later: ask it when. */
  if (!le->dead && le->c && !evtimer_pending(le->cares_timer, NULL)) {
    mdspf_libevent__arm(le, le->cares_timer, mdspf_cares_timeout(le->c));
  }
  mdspf_libevent__leave(le);
}

/* The context's budget timer fired. */
MDSPF_LIBEVENT_FN void mdspf_libevent__on_budget_timer(evutil_socket_t fd,
                                                       short what, void *arg) {
  mdspf_libevent *le = MDSPF_LIBEVENT_CAST(mdspf_libevent *, arg);
  (void)fd;
  (void)what;
  if (le->dead || !le->ctx) {
    return;
  }
  le->depth++;
  mdspf_ctx_process_timeouts(le->ctx); /* check callbacks run in here */
  /* The context re-reports only when its earliest deadline changes; after
   * an early wake-up (see above) it does not, so re-arm from the source. */
  if (!le->dead && le->ctx && !evtimer_pending(le->budget_timer, NULL)) {
    mdspf_libevent__arm(le, le->budget_timer, mdspf_ctx_timeout(le->ctx));
  }
  mdspf_libevent__leave(le);
}

/* Backend hook: mdspf_watch_fn. */
MDSPF_LIBEVENT_FN void mdspf_libevent__watch(void *loop_ud, int fd, int rd,
                                             int wr) {
  mdspf_libevent *le = MDSPF_LIBEVENT_CAST(mdspf_libevent *, loop_ud);
  mdspf_libevent_io *io = NULL;
  short what =
    MDSPF_LIBEVENT_CAST(short, (rd ? EV_READ : 0) | (wr ? EV_WRITE : 0));
  size_t i;

  if (le->dead || fd < 0) {
    return;
  }
  for (i = 0; i < le->nio; i++) {
    if (le->io[i].fd == fd) {
      io = &le->io[i];
      break;
    }
  }
  if (!what) { /* stop watching: the backend is about to close fd */
    if (io) {
      if (io->what) {
        event_del(io->ev);
      }
      io->what = 0;
      io->fd = -1; /* keep io->ev for the next socket */
    }
    return;
  }
  if (!io) { /* a new socket: reuse a free entry, else append one */
    for (i = 0; i < le->nio; i++) {
      if (le->io[i].fd < 0) {
        io = &le->io[i];
        break;
      }
    }
    if (!io) {
      if (le->nio == le->capio) {
        size_t cap = le->capio ? le->capio * 2 : 4;
        mdspf_libevent_io *n = MDSPF_LIBEVENT_CAST(
          mdspf_libevent_io *, MDSPF_LIBEVENT_REALLOC(le->io, cap * sizeof *n));
        if (!n) {
          mdspf_libevent__fail(le, MDSPF_E_NOMEM);
          return;
        }
        le->io = n;
        le->capio = cap;
      }
      io = &le->io[le->nio++];
      io->ev = NULL;
      io->what = 0;
    }
    io->fd = fd;
  }
  if (io->what == what) {
    return; /* idempotent */
  }
  /* Change of interest: disarm, re-assign, re-arm.  Allowed while this
   * very event's callback is running (it is not freed, only re-set). */
  if (io->ev) {
    if (io->what) {
      event_del(io->ev);
      io->what = 0;
    }
    if (event_assign(io->ev, le->base, MDSPF_LIBEVENT_CAST(evutil_socket_t, fd),
                     MDSPF_LIBEVENT_CAST(short, what | EV_PERSIST),
                     mdspf_libevent__on_io, le) != 0) {
      mdspf_libevent__fail(le, MDSPF_E_STATE);
      return;
    }
  } else {
    io->ev = event_new(le->base, MDSPF_LIBEVENT_CAST(evutil_socket_t, fd),
                       MDSPF_LIBEVENT_CAST(short, what | EV_PERSIST),
                       mdspf_libevent__on_io, le);
    if (!io->ev) {
      io->fd = -1;
      mdspf_libevent__fail(le, MDSPF_E_NOMEM);
      return;
    }
  }
  if (event_add(io->ev, NULL) != 0) {
    mdspf_libevent__fail(le, MDSPF_E_STATE);
    return;
  }
  io->what = what;
}

/* Backend hook: mdspf_timer_fn for c-ares timeouts. */
MDSPF_LIBEVENT_FN void mdspf_libevent__cares_timer(void *loop_ud, long ms) {
  mdspf_libevent *le = MDSPF_LIBEVENT_CAST(mdspf_libevent *, loop_ud);
  mdspf_libevent__arm(le, le->cares_timer, ms);
}

/* Context hook: mdspf_timer_fn for check budgets. */
MDSPF_LIBEVENT_FN void mdspf_libevent__budget_timer(void *loop_ud, long ms) {
  mdspf_libevent *le = MDSPF_LIBEVENT_CAST(mdspf_libevent *, loop_ud);
  mdspf_libevent__arm(le, le->budget_timer, ms);
}

/* ---- public ---------------------------------------------------------- */

/**
 * Free the adapter without touching the backend or the context: teardown
 * order (b) above, after mdspf_ctx_free and mdspf_cares_free (of the
 * objects given to attach).  Disarms and frees its events (before
 * event_base_free, please).  NULL is fine.
 */
MDSPF_LIBEVENT_FN void mdspf_libevent_free(mdspf_libevent *le) {
  if (!le || le->dead) {
    return;
  }
  le->c = NULL;
  le->ctx = NULL;
  if (le->depth > 0) { /* inside one of our callbacks: finish there */
    mdspf_libevent__disarm(le);
    le->dead = 1;
    return;
  }
  mdspf_libevent__destroy(le);
}

/**
 * Hook c (may be NULL) and ctx (may be NULL, not both) into base.
 *
 * Installs the backend's watch and timer hooks (replacing any earlier
 * ones) and, for ctx, the budget timer hook.  Sockets the backend already
 * has open and budgets already running are reported to the adapter at
 * once.  On success *out is the adapter, owned by the caller until
 * mdspf_libevent_detach or mdspf_libevent_free.
 *
 * Returns MDSPF_OK, MDSPF_E_INVAL (out or base NULL, or both c and ctx
 * NULL), MDSPF_E_NOMEM, or MDSPF_E_STATE (the backend has queries
 * outstanding: attach before starting checks).  On failure nothing is
 * changed and *out is NULL.
 */
MDSPF_LIBEVENT_FN int mdspf_libevent_attach(mdspf_cares *c, mdspf_ctx *ctx,
                                            struct event_base *base,
                                            mdspf_libevent **out) {
  mdspf_libevent *le;
  int rc;

  if (!out) {
    return MDSPF_E_INVAL;
  }
  *out = NULL;
  if (!base || (!c && !ctx)) {
    return MDSPF_E_INVAL;
  }
  le = MDSPF_LIBEVENT_CAST(mdspf_libevent *,
                            MDSPF_LIBEVENT_REALLOC(NULL, sizeof *le));
  if (!le) {
    return MDSPF_E_NOMEM;
  }
  memset(le, 0, sizeof *le);
  le->base = base;
  if (c) {
    le->cares_timer = evtimer_new(base, mdspf_libevent__on_cares_timer, le);
    if (!le->cares_timer) {
      mdspf_libevent__destroy(le);
      return MDSPF_E_NOMEM;
    }
  }
  if (ctx) {
    le->budget_timer = evtimer_new(base, mdspf_libevent__on_budget_timer, le);
    if (!le->budget_timer) {
      mdspf_libevent__destroy(le);
      return MDSPF_E_NOMEM;
    }
  }
  /* Fields first: the hooks may be called from inside the set calls. */
  le->c = c;
  le->ctx = ctx;
  if (c) {
    rc = mdspf_cares_set_loop(c, mdspf_libevent__watch,
                              mdspf_libevent__cares_timer, le);
    if (rc != MDSPF_OK) {
      mdspf_libevent__destroy(le);
      return rc;
    }
  }
  if (ctx) {
    rc = mdspf_ctx_set_timer(ctx, mdspf_libevent__budget_timer, le);
    if (rc != MDSPF_OK) {
      if (c) {
        (void)mdspf_cares_set_loop(c, NULL, NULL, NULL); /* nothing sent */
      }
      mdspf_libevent__destroy(le);
      return rc;
    }
  }
  *out = le;
  return MDSPF_OK;
}

/**
 * Teardown order (a): remove the hooks from the backend and the context
 * (both must still exist) and free the adapter.  Returns MDSPF_OK, or
 * MDSPF_E_STATE when the backend still has queries outstanding, or
 * MDSPF_E_RECURSIVE from inside one of its callbacks -- then nothing was
 * changed and the adapter keeps working.  NULL is fine.
 */
MDSPF_LIBEVENT_FN int mdspf_libevent_detach(mdspf_libevent *le) {
  int rc;
  if (!le || le->dead) {
    return MDSPF_OK;
  }
  if (le->c) {
    rc = mdspf_cares_set_loop(le->c, NULL, NULL, NULL);
    if (rc != MDSPF_OK) {
      return rc;
    }
  }
  if (le->ctx) {
    (void)mdspf_ctx_set_timer(le->ctx, NULL, NULL);
  }
  mdspf_libevent_free(le);
  return MDSPF_OK;
}

/**
 * MDSPF_OK, or the first failure met inside a hook since attach: the
 * hooks cannot return errors, so a socket that could not be watched
 * (MDSPF_E_NOMEM) or an event libevent refused (MDSPF_E_STATE) is
 * recorded here.  Queries on an unwatched socket still end by the
 * backend's timeouts; a timer that could not be armed is armed again at
 * the next request.
 */
MDSPF_LIBEVENT_FN int mdspf_libevent_status(const mdspf_libevent *le) {
  return le ? le->status : MDSPF_E_INVAL;
}

#ifdef __cplusplus
}
#endif
#endif /* MAILDROP_SPF_ADAPTERS_LIBEVENT_H */
