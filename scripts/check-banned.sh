#!/bin/sh
# Checks that each function src/util/util.h bans fails to build: a call to
# it, compiled with grantd's warning flags, must be refused with the
# "banned in grantd" message (by gcc, and by clang when it is installed).
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

calls='strcpy(d, s)
strcat(d, s)
sprintf(d, "%s", s)
vsprintf(d, s, ap)
strtok(d, s)
gets(d)'

compilers=gcc
command -v clang >/dev/null 2>&1 && compilers="gcc clang"
status=0
echo "$calls" | while IFS= read -r call; do
	name=${call%%(*}
	cat >"$tmp/$name.c" <<C
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "util/util.h"
void banned_probe(char *d, const char *s, va_list ap);
void banned_probe(char *d, const char *s, va_list ap)
{
	(void)d; (void)s; (void)ap;
	(void)$call;
}
C
	for cc in $compilers; do
		for opt in "-O0" "-O2 -D_FORTIFY_SOURCE=2"; do
			# shellcheck disable=SC2086
			if $cc -std=c11 -Wall -Wextra -Werror $opt -Isrc -c \
				"$tmp/$name.c" -o "$tmp/$name.o" 2>"$tmp/err"; then
				echo "check-banned: $name builds with $cc $opt" >&2
				exit 1
			fi
			if ! grep -q "banned in grantd" "$tmp/err"; then
				echo "check-banned: $name refused by $cc $opt, but not as banned:" >&2
				cat "$tmp/err" >&2
				exit 1
			fi
		done
	done
done || status=1
[ "$status" -eq 0 ] && echo "check-banned: strcpy strcat sprintf vsprintf strtok gets are refused"
exit "$status"
