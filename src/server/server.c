/*
 * The embedded PostgreSQL cluster.  Layout of a data directory:
 *   etl.lock    flock()ed by the etl command using the directory
 *   pgdata/     the cluster, owned by the server's account, mode 0700;
 *               also the Unix socket directory (no TCP listener)
 *   server.log  the server's output, initdb.log the cluster creation's
 * The postmaster is our direct child, in its own process group, with a
 * parent-death signal: whether etl ends normally, by Ctrl-C or by SIGKILL,
 * the server gets SIGINT (fast shutdown) and nothing is left running.
 * PostgreSQL refuses to run as root, so under root the server runs as the
 * `postgres` account (or $ETL_PG_USER, or `nobody`).
 */
#define _DEFAULT_SOURCE   /* setgroups */
#define _XOPEN_SOURCE 700 /* nftw, realpath */
#include "etl/server.h"
#include "etl/buf.h"
#include "etl/db.h"
#include "etl/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define START_TIMEOUT_S 60
#define STOP_TIMEOUT_S 60

struct etl_server {
    char *dir;      /* absolute data directory */
    char *pgdata;   /* dir/pgdata */
    char *conninfo; /* host=<pgdata> ... */
    int lock_fd;
    pid_t postmaster;
    const etl_log *log;
};

/* The settings that make the cluster ours: a private, disposable lab server. */
static const char server_conf[] =
    "\n# --- added by etl: a private lab server, see docs/cli.md ---\n"
    "listen_addresses = ''\n"
    "unix_socket_permissions = 0700\n"
    "max_connections = 40\n"
    "shared_buffers = 256MB\n"
    "timezone = 'UTC'\n"
    /* Scenario databases are rebuilt from templates at will, so durability
     * buys nothing here; on a crash of the machine, run `etl generate` again. */
    "fsync = off\n"
    "synchronous_commit = off\n"
    "full_page_writes = off\n"
    "wal_level = minimal\n"
    "max_wal_senders = 0\n"
    "max_wal_size = 4GB\n"
    "checkpoint_timeout = 30min\n"
    /* The server runs only while an etl command does: autovacuum would start a
     * previous run's VACUUM of millions of events beside this command's loads
     * and lose it unfinished at the stop.  generate ANALYZEs the templates. */
    "autovacuum = off\n"
    "logging_collector = off\n";

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *join(const char *a, const char *b)
{
    etl_buf p = ETL_BUF_INIT;
    if (etl_buf_printf(&p, "%s/%s", a, b) != ETL_OK)
        return NULL;
    return etl_buf_detach(&p);
}

/* The directory holding initdb and postgres: $ETL_PG_BINDIR, Debian's layout, then PATH. */
static int find_bindir(char *out, size_t cap, etl_error *err)
{
    const char *env = getenv("ETL_PG_BINDIR");
    char path[PATH_MAX];
    if (env && *env) {
        snprintf(path, sizeof(path), "%s/postgres", env);
        if (access(path, X_OK) == 0) {
            snprintf(out, cap, "%s", env);
            return ETL_OK;
        }
        return etl_error_set(err, ETL_ERR_CONNECT,
                             "ETL_PG_BINDIR=%s has no postgres executable; point it at the "
                             "directory holding initdb and postgres",
                             env);
    }
    int best = -1;
    DIR *d = opendir("/usr/lib/postgresql");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end = NULL;
            long v = strtol(e->d_name, &end, 10);
            if (end == e->d_name || *end || v <= best || v > 1000)
                continue;
            snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin/postgres", e->d_name);
            if (access(path, X_OK) == 0)
                best = (int)v;
        }
        closedir(d);
    }
    if (best >= 0) {
        snprintf(out, cap, "/usr/lib/postgresql/%d/bin", best);
        return ETL_OK;
    }
    const char *pathenv = getenv("PATH");
    if (pathenv) {
        char *copy = strdup(pathenv);
        char *save = NULL;
        for (char *p = copy ? strtok_r(copy, ":", &save) : NULL; p;
             p = strtok_r(NULL, ":", &save)) {
            snprintf(path, sizeof(path), "%s/postgres", p);
            char initdb[PATH_MAX];
            snprintf(initdb, sizeof(initdb), "%s/initdb", p);
            if (access(path, X_OK) == 0 && access(initdb, X_OK) == 0) {
                snprintf(out, cap, "%s", p);
                free(copy);
                return ETL_OK;
            }
        }
        free(copy);
    }
    return etl_error_set(err, ETL_ERR_CONNECT,
                         "the PostgreSQL server programs (initdb, postgres) are not installed; "
                         "install them with `apt-get install postgresql` (Debian/Ubuntu), set "
                         "ETL_PG_BINDIR to their directory, or use --db CONNINFO with an "
                         "existing server");
}

/* Who runs the server: ourselves, or an unprivileged account when we are root. */
static int server_account(uid_t *uid, gid_t *gid, char *name, size_t cap, etl_error *err)
{
    if (geteuid() != 0) {
        *uid = geteuid();
        *gid = getegid();
        struct passwd *pw = getpwuid(*uid);
        snprintf(name, cap, "%s", pw ? pw->pw_name : "(this user)");
        return ETL_OK;
    }
    const char *candidates[3] = {getenv("ETL_PG_USER"), "postgres", "nobody"};
    for (int i = 0; i < 3; i++) {
        if (!candidates[i] || !*candidates[i])
            continue;
        struct passwd *pw = getpwnam(candidates[i]);
        if (pw && pw->pw_uid != 0) {
            *uid = pw->pw_uid;
            *gid = pw->pw_gid;
            snprintf(name, cap, "%s", pw->pw_name);
            return ETL_OK;
        }
        if (i == 0)
            return etl_error_set(err, ETL_ERR_CONNECT,
                                 "ETL_PG_USER=%s is not an existing unprivileged account",
                                 candidates[0]);
    }
    return etl_error_set(err, ETL_ERR_CONNECT,
                         "etl runs as root and PostgreSQL refuses to: no unprivileged account "
                         "(postgres or nobody) to run the server as; create one or set "
                         "ETL_PG_USER");
}

/* In a child: become the server account (when root). */
static int drop_privileges(uid_t uid, gid_t gid)
{
    if (geteuid() != 0)
        return 0;
    if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        return -1;
    return 0;
}

/* Can the server account use dir (access(2) mode)?  Checked in a child as that account. */
static int account_can_use(const char *dir, int mode, uid_t uid, gid_t gid)
{
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        if (drop_privileges(uid, gid) != 0)
            _exit(2);
        _exit(access(dir, mode) == 0 ? 0 : 1);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * How to start one of the server's programs (initdb, postgres): as the
 * server account, stdin from /dev/null, stdout and stderr appended to log_path.
 */
typedef struct child {
    const char *path;        /* the executable */
    const char *const *argv; /* NULL-terminated; argv[0] is what ps shows */
    const char *log_path;    /* appended to */
    uid_t uid;               /* the server account (used when etl runs as root) */
    gid_t gid;               /* its group */
    int death_signal;        /* what the child gets when etl dies */
    bool own_group;          /* in a process group of its own */
} child;

/* Start c as the server account (`what` names it in messages); its pid into *out. */
static int spawn(const child *c, const char *what, pid_t *out, etl_error *err)
{
    int fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return etl_error_set(err, ETL_ERR_IO, "%s: cannot open: %s", c->log_path, strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int rc = etl_error_set(err, ETL_ERR_IO, "cannot fork %s: %s", what, strerror(errno));
        close(fd);
        return rc;
    }
    if (pid == 0) {
        if (c->own_group)
            setpgid(0, 0); /* Ctrl-C reaches etl, which then stops the child in order */
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (drop_privileges(c->uid, c->gid) != 0)
            _exit(126);
        /*
         * Set after the change of user, which clears it; and etl may have
         * died before it was set (then nobody is left to wait for us).
         */
        prctl(PR_SET_PDEATHSIG, c->death_signal);
        if (getppid() != parent)
            _exit(125);
        /* execv's prototype predates const; it does not modify the strings. */
        execv(c->path, (char *const *)(uintptr_t)c->argv); // NOLINT(performance-no-int-to-ptr)
        _exit(127);
    }
    close(fd);
    *out = pid;
    return ETL_OK;
}

/*
 * Run argv as the server account with output appended to log_path; wait.
 * Returns the exit status, or -1 if it could not be run.
 */
static int run_as(const char *const *argv, uid_t uid, gid_t gid, const char *log_path)
{
    /* Dies with etl: an interrupted etl leaves no initdb writing on behind it. */
    child c = {argv[0], argv, log_path, uid, gid, SIGKILL, false};
    pid_t pid = 0;
    if (spawn(&c, "initdb", &pid, NULL) != ETL_OK)
        return -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last lines of a log file, for error messages. */
static void log_tail(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char ring[6][256];
    int n = 0;
    while (fgets(ring[n % 6], sizeof(ring[0]), f))
        n++;
    fclose(f);
    size_t used = 0;
    for (int i = n > 6 ? n - 6 : 0; i < n && used + 1 < cap; i++) {
        int w = snprintf(out + used, cap - used, "\n    %s", ring[i % 6]);
        used = w < 0 || (size_t)w >= cap - used ? cap - 1 : used + (size_t)w; /* truncated */
    }
    while (used > 0 && (out[used - 1] == '\n' || out[used - 1] == ' '))
        out[--used] = '\0';
}

static int take_lock(etl_server *s, etl_error *err)
{
    char *path = join(s->dir, "etl.lock");
    if (!path)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        int rc = etl_error_set(err, ETL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        free(path);
        return rc;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = "";
        ssize_t n = pread(s->lock_fd, holder, sizeof(holder) - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        etl_log_info(s->log, "data directory %s is in use by another etl command (pid %s); waiting",
                     s->dir, holder[0] ? holder : "?");
        while (flock(s->lock_fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                int rc =
                    etl_error_set(err, ETL_ERR_IO, "%s: cannot lock: %s", path, strerror(errno));
                free(path);
                return rc;
            }
        }
    }
    free(path);
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
        etl_log_verbose(s->log, "could not record our pid in the lock file");
    return ETL_OK;
}

static int make_dir(etl_server *s, const char *data_dir, etl_error *err)
{
    /* Others may search (not list) the top directory so a dropped-privilege server can reach
     * pgdata. */
    mode_t mode = geteuid() == 0 ? 0711 : 0700;
    if (mkdir(data_dir, mode) != 0 && errno != EEXIST)
        return etl_error_set(err, ETL_ERR_IO, "data directory %s: cannot create: %s", data_dir,
                             strerror(errno));
    char real[PATH_MAX];
    if (!realpath(data_dir, real))
        return etl_error_set(err, ETL_ERR_IO, "data directory %s: %s", data_dir, strerror(errno));
    /*
     * It must be ours and closed to others: a directory someone else made
     * (say, a guessed /var/tmp/etl-... planted before root's first run) would
     * let them swap the cluster or the lock under us.
     */
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return etl_error_set(err, ETL_ERR_IO, "data directory %s is not a directory", real);
    if (st.st_uid != geteuid() || (st.st_mode & 022))
        return etl_error_set(
            err, ETL_ERR_USAGE,
            "data directory %s is %s; etl only uses a directory it owns that "
            "others cannot write: remove it or choose another --data-dir",
            real, st.st_uid != geteuid() ? "owned by another user" : "writable by group or others");
    s->dir = strdup(real);
    s->pgdata = join(real, "pgdata");
    if (!s->dir || !s->pgdata)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    struct sockaddr_un sun;
    if (strlen(s->pgdata) + strlen("/.s.PGSQL.5432") >= sizeof(sun.sun_path))
        return etl_error_set(err, ETL_ERR_USAGE,
                             "data directory %s: path too long for PostgreSQL's Unix socket "
                             "(at most %zu bytes); use a shorter --data-dir",
                             s->dir, sizeof(sun.sun_path) - strlen("/pgdata/.s.PGSQL.5432") - 1);
    return ETL_OK;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/*
 * The cluster is complete once our settings are in its postgresql.conf,
 * the last step of init_cluster: initdb's own PG_VERSION comes early, and a
 * cluster interrupted after it would start listening on the defaults.
 */
static bool cluster_complete(const etl_server *s)
{
    static const char want[] = "unix_socket_directories = '";
    char conf[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/postgresql.conf", s->pgdata);
    FILE *f = fopen(conf, "r");
    if (!f)
        return false;
    char line[PATH_MAX + 64];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strncmp(line, want, sizeof(want) - 1) == 0;
    fclose(f);
    return found;
}

static int init_cluster(etl_server *s, const char *bindir, uid_t uid, gid_t gid,
                        const char *account, etl_error *err)
{
    if (cluster_complete(s))
        return ETL_OK;
    /* A half-made cluster from an interrupted first run: start over. */
    nftw(s->pgdata, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(s->pgdata, 0700) != 0)
        return etl_error_set(err, ETL_ERR_IO, "%s: cannot create: %s", s->pgdata, strerror(errno));
    if (geteuid() == 0 && chown(s->pgdata, uid, gid) != 0)
        return etl_error_set(err, ETL_ERR_IO, "%s: cannot hand it to user %s: %s", s->pgdata,
                             account, strerror(errno));
    if (!account_can_use(s->pgdata, R_OK | W_OK | X_OK, uid, gid))
        return etl_error_set(err, ETL_ERR_CONNECT,
                             "data directory %s: the PostgreSQL server runs as user '%s' "
                             "(PostgreSQL refuses root) and cannot reach it; use a --data-dir "
                             "that user can reach (e.g. under /var/tmp) or make the parent "
                             "directories searchable (chmod o+x)",
                             s->dir, account);
    etl_log_info(s->log, "creating a private PostgreSQL cluster in %s (server runs as %s)",
                 s->pgdata, account);
    char initdb[PATH_MAX + 32];
    char logp[PATH_MAX + 32];
    snprintf(initdb, sizeof(initdb), "%s/initdb", bindir);
    snprintf(logp, sizeof(logp), "%s/initdb.log", s->dir);
    const char *argv[] = {initdb, "-D",   s->pgdata,     "-U",        "etl", "--auth=trust",
                          "-E",   "UTF8", "--no-locale", "--no-sync", NULL};
    int status = run_as(argv, uid, gid, logp);
    if (status != 0) {
        char tail[1600];
        log_tail(logp, tail, sizeof(tail));
        return etl_error_set(err, ETL_ERR_CONNECT, "initdb failed (exit %d), see %s:%s", status,
                             logp, tail);
    }
    char conf[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/postgresql.conf", s->pgdata);
    FILE *f = fopen(conf, "a");
    if (!f)
        return etl_error_set(err, ETL_ERR_IO, "%s: cannot open: %s", conf, strerror(errno));
    fputs(server_conf, f);
    fprintf(f, "unix_socket_directories = '%s'\n", s->pgdata);
    if (fclose(f) != 0)
        return etl_error_set(err, ETL_ERR_IO, "%s: cannot write: %s", conf, strerror(errno));
    return ETL_OK;
}

/* A postmaster of a killed etl may still be shutting down: give it time. */
static int wait_for_old_postmaster(etl_server *s, etl_error *err)
{
    char pidfile[PATH_MAX];
    snprintf(pidfile, sizeof(pidfile), "%s/postmaster.pid", s->pgdata);
    for (int i = 0; i < START_TIMEOUT_S * 10; i++) {
        FILE *f = fopen(pidfile, "r");
        if (!f)
            return ETL_OK;
        char line[32] = "";
        const char *got = fgets(line, sizeof(line), f);
        fclose(f);
        long pid = got ? strtol(line, NULL, 10) : 0;
        if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
            return ETL_OK; /* stale: the server removes it on start */
        if (i == 0)
            etl_log_info(s->log, "waiting for a previous server (pid %ld) to shut down", pid);
        sleep_ms(100);
    }
    return etl_error_set(err, ETL_ERR_CONNECT,
                         "a PostgreSQL server is still running on %s; stop it with "
                         "`pg_ctl -D %s stop` (as its owner)",
                         s->pgdata, s->pgdata);
}

static int launch(etl_server *s, const char *bindir, uid_t uid, gid_t gid, etl_error *err)
{
    char postgres[PATH_MAX + 32];
    char logp[PATH_MAX + 32];
    snprintf(postgres, sizeof(postgres), "%s/postgres", bindir);
    snprintf(logp, sizeof(logp), "%s/server.log", s->dir);
    const char *argv[] = {"postgres", "-D", s->pgdata, NULL};
    /* If etl dies, the server shuts down fast. */
    child c = {postgres, argv, logp, uid, gid, SIGINT, true};
    pid_t pid = 0;
    int rc = spawn(&c, "the server", &pid, err);
    if (rc != ETL_OK)
        return rc;
    s->postmaster = pid;
    long long deadline = etl_now_us() + START_TIMEOUT_S * 1000000LL;
    while (etl_now_us() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->postmaster = 0;
            char tail[1600];
            log_tail(logp, tail, sizeof(tail));
            return etl_error_set(err, ETL_ERR_CONNECT,
                                 "the PostgreSQL server did not start, see %s:%s", logp, tail);
        }
        if (etl_db_ping(s->conninfo))
            return ETL_OK;
        sleep_ms(20);
    }
    return etl_error_set(err, ETL_ERR_CONNECT,
                         "the PostgreSQL server did not accept connections within %d s, see %s",
                         START_TIMEOUT_S, logp);
}

int etl_server_start(etl_server **out, const char *data_dir, const etl_log *log, etl_error *err)
{
    *out = NULL;
    etl_server *s = calloc(1, sizeof(*s));
    if (!s)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    s->lock_fd = -1;
    s->log = log;
    char bindir[PATH_MAX];
    char account[64];
    uid_t uid = 0;
    gid_t gid = 0;
    etl_buf ci = ETL_BUF_INIT;
    int rc;
    if ((rc = find_bindir(bindir, sizeof(bindir), err)) != ETL_OK ||
        (rc = server_account(&uid, &gid, account, sizeof(account), err)) != ETL_OK ||
        (rc = make_dir(s, data_dir, err)) != ETL_OK || (rc = take_lock(s, err)) != ETL_OK ||
        (rc = init_cluster(s, bindir, uid, gid, account, err)) != ETL_OK ||
        (rc = wait_for_old_postmaster(s, err)) != ETL_OK)
        goto fail;
    /* A conninfo value in single quotes, with ' and \ escaped by a backslash. */
    if (etl_buf_puts(&ci, "host='") != ETL_OK)
        goto nomem;
    for (const char *p = s->pgdata; *p; p++) {
        if ((*p == '\'' || *p == '\\') && etl_buf_putc(&ci, '\\') != ETL_OK)
            goto nomem;
        if (etl_buf_putc(&ci, *p) != ETL_OK)
            goto nomem;
    }
    if (etl_buf_puts(&ci, "' port=5432 user=etl dbname=postgres") != ETL_OK)
        goto nomem;
    s->conninfo = etl_buf_detach(&ci);
    etl_log_verbose(log, "starting PostgreSQL (%s) on %s", bindir, s->pgdata);
    if ((rc = launch(s, bindir, uid, gid, err)) != ETL_OK)
        goto fail;
    *out = s;
    return ETL_OK;
nomem:
    rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
fail:
    etl_buf_release(&ci);
    etl_server_stop(s);
    return rc;
}

const char *etl_server_conninfo(const etl_server *s)
{
    return s->conninfo;
}

void etl_server_stop(etl_server *s)
{
    if (!s)
        return;
    if (s->postmaster > 0) {
        kill(s->postmaster, SIGINT); /* fast shutdown: roll back, checkpoint, exit */
        long long deadline = etl_now_us() + STOP_TIMEOUT_S * 1000000LL;
        int status;
        while (waitpid(s->postmaster, &status, WNOHANG) == 0) {
            if (etl_now_us() > deadline) {
                kill(s->postmaster, SIGQUIT); /* immediate shutdown */
                waitpid(s->postmaster, &status, 0);
                break;
            }
            sleep_ms(10);
        }
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    free(s->dir);
    free(s->pgdata);
    free(s->conninfo);
    free(s);
}

void etl_server_default_dir(char *out, size_t cap, const etl_log *log)
{
    snprintf(out, cap, ".etl-data");
    uid_t uid = 0;
    gid_t gid = 0;
    char account[64];
    char cwd[PATH_MAX];
    etl_error ignored;
    if (geteuid() != 0 || !getcwd(cwd, sizeof(cwd)) ||
        server_account(&uid, &gid, account, sizeof(account), &ignored) != ETL_OK ||
        account_can_use(cwd, X_OK, uid, gid))
        return;
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = cwd; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, cap, "/var/tmp/etl-%016llx", (unsigned long long)h);
    /* Say it loudly once, when the directory is first made; then only with -v. */
    void (*say)(const etl_log *, const char *, ...) =
        access(out, F_OK) == 0 ? etl_log_verbose : etl_log_info;
    say(log,
        "the PostgreSQL server runs as '%s' (it refuses root) and cannot reach %s; "
        "keeping its data in %s instead (choose with --data-dir)",
        account, cwd, out);
}

int etl_server_remove(const char *data_dir, const etl_log *log, etl_error *err)
{
    struct stat st;
    if (stat(data_dir, &st) != 0)
        return ETL_OK; /* nothing there: nothing to remove */
    etl_server *s = calloc(1, sizeof(*s));
    if (!s)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    s->lock_fd = -1;
    s->log = log;
    int rc = make_dir(s, data_dir, err);
    if (rc == ETL_OK)
        rc = take_lock(s, err);
    if (rc == ETL_OK)
        rc = wait_for_old_postmaster(s, err);
    if (rc == ETL_OK && s->dir && nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        rc = etl_error_set(err, ETL_ERR_IO, "%s: cannot remove: %s", s->dir, strerror(errno));
    etl_server_stop(s);
    return rc;
}
