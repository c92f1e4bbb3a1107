/* main.c: the command line — parses arguments and runs an app command. */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "auth/auth.h"

static const char usage_text[] =
	"usage: grantd <command> [options]\n"
	"\n"
	"commands:\n"
	"  serve --config FILE [--pid-file FILE]\n"
	"                               run the server (the pid file is written\n"
	"                               once it listens, removed at exit)\n"
	"  migrate --config FILE        apply database migrations and exit\n"
	"  catalog check FILE           validate a catalog file\n"
	"  keys create --config FILE --name NAME --scope SCOPE [--scope SCOPE...]\n"
	"              [--expires-in SECONDS] [--json]\n"
	"                               create an API key (printed once)\n"
	"  keys list --config FILE [--json]\n"
	"  keys revoke --config FILE ID\n"
	"  clients create --config FILE --name NAME --scope SCOPE [--scope SCOPE...]\n"
	"              [--json]        create an OAuth client (secret printed once)\n"
	"  clients list --config FILE [--json]\n"
	"  clients revoke --config FILE ID\n"
	"  clients rotate-secret --config FILE ID [--json]\n"
	"                               new secret; the old one works for\n"
	"                               auth.client_secret_grace_seconds\n"
	"  signing-keys list --config FILE [--json]\n"
	"  signing-keys rotate --config FILE [--json]\n"
	"                               add a key that signs new access tokens\n"
	"  signing-keys retire --config FILE KID\n"
	"                               stop signing with KID; its tokens end\n"
	"                               within auth.token_ttl_seconds\n"
	"  audit --config FILE [--limit N] [--json]\n"
	"                               credential, signing key and catalog changes,\n"
	"                               oldest first\n"
	"  outbox list --config FILE [--status pending|delivered|dead]\n"
	"              [--limit N] [--json]\n"
	"                               deliveries to providers, newest first\n"
	"  outbox retry --config FILE ID\n"
	"  outbox retry-dead --config FILE\n"
	"                               make dead deliveries due again\n"
	"  backup --config FILE --to PATH [--json]\n"
	"                               copy the database to a new file (safe while\n"
	"                               grantd runs)\n"
	"  restore --config FILE --from BACKUP [--force] [--json]\n"
	"                               check a backup and put it in place as the\n"
	"                               database (stop grantd first)\n"
	"  version                      print the version\n"
	"  --help                       print this help\n"
	"\n";

/* Prints the usage, the scopes the credential commands take, and where the
 * configuration is described. */
static void print_usage(FILE *out)
{
	fputs(usage_text, out);
	fprintf(out, "scopes: %s\n", auth_scope_names());
	fputs("Every config key can be overridden by GRANTD_<SECTION>_<KEY>; "
	      "see docs/configuration.md.\n", out);
}

#define MAX_SCOPES 8

/* Everything a subcommand may be given. */
struct args {
	const char *config;
	const char *pid_file;
	const char *name;
	const char *scopes[MAX_SCOPES];
	size_t n_scopes;
	long long expires_in;
	long long limit;
	const char *to;
	const char *from;
	const char *status;
	bool force;
	bool json;
	int n_positional;
	const char *positional[2];
};

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("grantd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	print_usage(stderr);
	return 2;
}

static int parse_option(int opt, struct args *a)
{
	char *end;

	switch (opt) {
	case 'c':
		a->config = optarg;
		return 0;
	case 'n':
		a->name = optarg;
		return 0;
	case 'p':
		if (*optarg == '\0')
			return usage_error("--pid-file needs a path");
		a->pid_file = optarg;
		return 0;
	case 's':
		if (a->n_scopes == MAX_SCOPES)
			return usage_error("too many --scope options");
		a->scopes[a->n_scopes++] = optarg;
		return 0;
	case 'e':
		a->expires_in = strtoll(optarg, &end, 10);
		if (*optarg == '\0' || *end != '\0' || a->expires_in <= 0)
			return usage_error("--expires-in needs a positive number "
					   "of seconds");
		return 0;
	case 'j':
		a->json = true;
		return 0;
	case 'l':
		a->limit = strtoll(optarg, &end, 10);
		if (*optarg == '\0' || *end != '\0' || a->limit <= 0)
			return usage_error("--limit needs a positive number");
		return 0;
	case 't':
		a->to = optarg;
		return 0;
	case 'f':
		a->from = optarg;
		return 0;
	case 'F':
		a->force = true;
		return 0;
	case 'S':
		a->status = optarg;
		return 0;
	default:
		return usage_error("bad option");
	}
}

/* Parses the options after the command words; argv[0] is the last word. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "scope", required_argument, NULL, 's' },
		{ "expires-in", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "force", no_argument, NULL, 'F' },
		{ "status", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return usage_error("unknown option or missing value: %s",
					   argv[optind - 1]);
		if ((rc = parse_option(opt, a)))
			return rc;
	}
	for (int i = optind; i < argc; i++) {
		if (a->n_positional == 2)
			return usage_error("unexpected argument \"%s\"", argv[i]);
		a->positional[a->n_positional++] = argv[i];
	}
	return 0;
}

/* Checks what a command accepts: --config required or not, how many
 * positional arguments, and whether key options are allowed. */
static int expect(const struct args *a, const char *cmd, bool config,
		  int positional, bool key_options)
{
	if (config && !a->config)
		return usage_error("%s needs --config FILE", cmd);
	if (!config && a->config)
		return usage_error("%s takes no --config", cmd);
	if (a->n_positional != positional)
		return usage_error("%s takes %d argument(s), got %d", cmd,
				   positional, a->n_positional);
	if (!key_options && (a->name || a->n_scopes || a->expires_in))
		return usage_error("%s takes no --name, --scope or --expires-in", cmd);
	if (a->limit && strcmp(cmd, "audit") != 0 &&
	    strcmp(cmd, "outbox list") != 0)
		return usage_error("%s takes no --limit", cmd);
	if (a->status && strcmp(cmd, "outbox list") != 0)
		return usage_error("%s takes no --status", cmd);
	if (a->pid_file && strcmp(cmd, "serve") != 0)
		return usage_error("%s takes no --pid-file", cmd);
	if (a->to && strcmp(cmd, "backup") != 0)
		return usage_error("%s takes no --to", cmd);
	if ((a->from || a->force) && strcmp(cmd, "restore") != 0)
		return usage_error("%s takes no --from or --force", cmd);
	return 0;
}

/* A bad key name or scope is a usage mistake, answered like one. */
static int check_key_options(const struct args *a)
{
	unsigned bit;

	if (!auth_name_valid(a->name))
		return usage_error("--name must be 1 to %d printable ASCII "
				   "characters", AUTH_NAME_MAX);
	for (size_t i = 0; i < a->n_scopes; i++)
		if (auth_scope_parse(a->scopes[i], &bit))
			return usage_error("unknown scope \"%s\" (known: %s)",
					   a->scopes[i], auth_scope_names());
	return 0;
}

static int run_keys(int argc, char **argv)
{
	struct args a;
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	if (argc < 2)
		return usage_error("keys needs create, list or revoke");
	if ((rc = parse_args(argc - 1, argv + 1, &a)))
		return rc;
	if (strcmp(sub, "create") == 0) {
		if ((rc = expect(&a, "keys create", true, 0, true)))
			return rc;
		if (!a.name || a.n_scopes == 0)
			return usage_error("keys create needs --name and at least "
					   "one --scope");
		if ((rc = check_key_options(&a)))
			return rc;
		return app_keys_create(a.config, a.name, a.scopes, a.n_scopes,
				       a.expires_in, a.json);
	}
	if (strcmp(sub, "list") == 0)
		return (rc = expect(&a, "keys list", true, 0, false)) ? rc :
			app_keys_list(a.config, a.json);
	if (strcmp(sub, "revoke") == 0)
		return (rc = expect(&a, "keys revoke", true, 1, false)) ? rc :
			app_keys_revoke(a.config, a.positional[0]);
	return usage_error("unknown keys command \"%s\"", sub);
}

static int run_clients(int argc, char **argv)
{
	struct args a;
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	if (argc < 2)
		return usage_error("clients needs create, list, revoke or "
				   "rotate-secret");
	if ((rc = parse_args(argc - 1, argv + 1, &a)))
		return rc;
	if (strcmp(sub, "create") == 0) {
		if ((rc = expect(&a, "clients create", true, 0, true)))
			return rc;
		if (!a.name || a.n_scopes == 0)
			return usage_error("clients create needs --name and at "
					   "least one --scope");
		if (a.expires_in)
			return usage_error("clients create takes no --expires-in "
					   "(revoke a client to end it)");
		if ((rc = check_key_options(&a)))
			return rc;
		return app_clients_create(a.config, a.name, a.scopes, a.n_scopes,
					  a.json);
	}
	if (strcmp(sub, "list") == 0)
		return (rc = expect(&a, "clients list", true, 0, false)) ? rc :
			app_clients_list(a.config, a.json);
	if (strcmp(sub, "revoke") == 0)
		return (rc = expect(&a, "clients revoke", true, 1, false)) ? rc :
			app_clients_revoke(a.config, a.positional[0]);
	if (strcmp(sub, "rotate-secret") == 0)
		return (rc = expect(&a, "clients rotate-secret", true, 1, false)) ?
			rc : app_clients_rotate_secret(a.config, a.positional[0],
						       a.json);
	return usage_error("unknown clients command \"%s\"", sub);
}

static int run_signing_keys(int argc, char **argv)
{
	struct args a;
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	if (argc < 2)
		return usage_error("signing-keys needs list, rotate or retire");
	if ((rc = parse_args(argc - 1, argv + 1, &a)))
		return rc;
	if (strcmp(sub, "list") == 0)
		return (rc = expect(&a, "signing-keys list", true, 0, false)) ? rc :
			app_signing_keys_list(a.config, a.json);
	if (strcmp(sub, "rotate") == 0)
		return (rc = expect(&a, "signing-keys rotate", true, 0, false)) ?
			rc : app_signing_keys_rotate(a.config, a.json);
	if (strcmp(sub, "retire") == 0) {
		if ((rc = expect(&a, "signing-keys retire", true, 1, false)))
			return rc;
		if (a.json)
			return usage_error("signing-keys retire takes no --json");
		return app_signing_keys_retire(a.config, a.positional[0]);
	}
	return usage_error("unknown signing-keys command \"%s\"", sub);
}

static int run_outbox(int argc, char **argv)
{
	struct args a;
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	if (argc < 2)
		return usage_error("outbox needs list, retry or retry-dead");
	if ((rc = parse_args(argc - 1, argv + 1, &a)))
		return rc;
	if (strcmp(sub, "list") == 0)
		return (rc = expect(&a, "outbox list", true, 0, false)) ? rc :
			app_outbox_list_cli(a.config, a.status, a.limit, a.json);
	if (a.json)
		return usage_error("outbox %s takes no --json", sub);
	if (strcmp(sub, "retry") == 0)
		return (rc = expect(&a, "outbox retry", true, 1, false)) ? rc :
			app_outbox_retry_cli(a.config, a.positional[0]);
	if (strcmp(sub, "retry-dead") == 0)
		return (rc = expect(&a, "outbox retry-dead", true, 0, false)) ?
			rc : app_outbox_retry_cli(a.config, NULL);
	return usage_error("unknown outbox command \"%s\"", sub);
}

static int run(int argc, char **argv)
{
	const char *cmd = argv[1];
	struct args a;
	int rc;

	if (strcmp(cmd, "keys") == 0)
		return run_keys(argc - 1, argv + 1);
	if (strcmp(cmd, "clients") == 0)
		return run_clients(argc - 1, argv + 1);
	if (strcmp(cmd, "signing-keys") == 0)
		return run_signing_keys(argc - 1, argv + 1);
	if (strcmp(cmd, "outbox") == 0)
		return run_outbox(argc - 1, argv + 1);
	if (strcmp(cmd, "catalog") == 0) {
		if (argc < 3 || strcmp(argv[2], "check") != 0)
			return usage_error("catalog needs: check FILE");
		if ((rc = parse_args(argc - 2, argv + 2, &a)) ||
		    (rc = expect(&a, "catalog check", false, 1, false)) || a.json)
			return rc ? rc : usage_error("catalog check takes no --json");
		return app_catalog_check(a.positional[0]);
	}
	if ((rc = parse_args(argc - 1, argv + 1, &a)))
		return rc;
	if (strcmp(cmd, "serve") == 0)
		return (rc = expect(&a, "serve", true, 0, false)) ? rc :
			app_serve(a.config, a.pid_file, argv[0]);
	if (strcmp(cmd, "audit") == 0)
		return (rc = expect(&a, "audit", true, 0, false)) ? rc :
			app_audit_list(a.config, a.limit, a.json);
	if (strcmp(cmd, "migrate") == 0)
		return (rc = expect(&a, "migrate", true, 0, false)) ? rc :
			app_migrate(a.config);
	if (strcmp(cmd, "backup") == 0) {
		if ((rc = expect(&a, "backup", true, 0, false)))
			return rc;
		return a.to ? app_backup(a.config, a.to, a.json) :
			usage_error("backup needs --to PATH");
	}
	if (strcmp(cmd, "restore") == 0) {
		if ((rc = expect(&a, "restore", true, 0, false)))
			return rc;
		return a.from ? app_restore(a.config, a.from, a.force, a.json) :
			usage_error("restore needs --from BACKUP");
	}
	return usage_error("unknown command \"%s\"", cmd);
}

static bool is_help(const char *cmd)
{
	return strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	       strcmp(cmd, "help") == 0;
}

static bool is_version(const char *cmd)
{
	return strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0;
}

int main(int argc, char **argv)
{
	struct args a;
	int rc;

	if (argc < 2)
		return usage_error("no command given");
	if (!is_help(argv[1]) && !is_version(argv[1]))
		return run(argc, argv);
	if ((rc = parse_args(argc - 1, argv + 1, &a)) ||
	    (rc = expect(&a, argv[1], false, 0, false)))
		return rc;
	if (a.json)
		return usage_error("%s takes no --json", argv[1]);
	if (is_help(argv[1]))
		print_usage(stdout);
	else
		printf("grantd %s\n", GRANTD_VERSION);
	return 0;
}
