/*
 * Unit tests of dbus-proxy/match.[ch]: the parser (a table of valid and
 * invalid rules with the exact refusal), quoting, the normalised form and
 * equality, matching of every key (argNpath and arg0namespace semantics of
 * the spec, sender/destination against owned names, eavesdropping), the
 * registry (RemoveMatch removes one of several equal rules, one report per
 * owner, skip), and a randomized test that the index reports exactly the
 * owners a linear scan over all rules finds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dbus-proxy/match.h"

static struct match_rule *parse_ok(const char *text)
{
        struct match_rule *rule = NULL;
        int r;

        r = match_rule_new(&rule, text);
        if (r != 0)
                fail_msg("rule \"%s\": %d (%s)", text, r, match_error_message(r));
        assert_non_null(rule);
        return rule;
}

struct parse_case {
        const char *text;
        int expected;
};

/* Also printed by --print-parse-table for test-match-daemon.py. */
static const struct parse_case parse_cases[] = {
        /* valid */
        { "", 0 },
        { "   ", 0 },
        { "type='signal'", 0 },
        { "type=signal", 0 },
        { "type='method_call'", 0 },
        { "type='method_return'", 0 },
        { "type='error'", 0 },
        { "type='signal',", 0 },
        { "  type ='signal',\t\n member='x'", 0 }, /* whitespace around keys only */
        { "type='signal',sender='org.freedesktop.DBusSender',interface='org.freedesktop.DBusInterface',"
          "member='Foo',path='/bar/foo',destination=':452345.34'", 0 },
        { "    type='signal',  \tsender='org.freedes''ktop.DBusSender',   "
          "interface='org.freedesktop.DBusInterface''''', \tmember='Foo',path='/bar/foo',"
          "destination=':452345.34'''''", 0 },
        { "sender=':1.5'", 0 },
        { "sender='org.freedesktop.DBus'", 0 },
        { "path='/'", 0 },
        { "path_namespace='/'", 0 },
        { "path_namespace='/foo/bar'", 0 },
        { "arg0='foo'", 0 },
        { "arg0=''", 0 },
        { "arg63='foo'", 0 },
        { "arg7path='/foo'", 0 },
        { "arg7path='anything goes'", 0 },
        { "arg0namespace='foo'", 0 },
        { "arg0namespace='foo.bar'", 0 },
        { "arg0namespace='org.foo-bar._baz'", 0 },
        { "arg0x3='hex'", 0 },          /* strtoul base 0, as dbus-daemon */
        { "arg010='octal'", 0 },
        { "arg1='a',arg0path='/b/',arg2='c'", 0 },
        { "eavesdrop='true'", 0 },
        { "eavesdrop='false'", 0 },
        { "eavesdrop='true',eavesdrop='false'", 0 }, /* may repeat */
        { "member='_x9'", 0 },
        { "sender=':'", 0 },                    /* libdbus's lax unique names */
        { "sender=':.1'", 0 },
        { "sender=':-.x'", 0 },
        { "sender=':1.2.3'", 0 },
        { "destination=':a'", 0 },
        { "sender='-a.b'", 0 },
        { "sender='a.-b'", 0 },
        { "sender='_.a'", 0 },
        { "arg0namespace=':1'", 0 },
        /* refusals */
        { "type", MATCH_E_NO_EQUALS },
        { "type 'signal'", MATCH_E_NO_EQUALS },
        { "type='signal',member", MATCH_E_NO_EQUALS },
        { "=signal", MATCH_E_NO_KEY },
        { "type='signal',='x'", MATCH_E_NO_KEY },
        { "type='signal", MATCH_E_UNBALANCED_QUOTES },
        { "foo='bar',type='sig", MATCH_E_UNBALANCED_QUOTES }, /* syntax before keys */
        { "foo='bar'", MATCH_E_UNKNOWN_KEY },
        { "Type='signal'", MATCH_E_UNKNOWN_KEY },
        { "type='signal',,member='x'", MATCH_E_UNKNOWN_KEY }, /* key ",member" */
        { "type='signal',type='method_call'", MATCH_E_DUPLICATE_KEY },
        { "type='signal',type='signal'", MATCH_E_DUPLICATE_KEY },
        { "sender='a.b',sender='a.b'", MATCH_E_DUPLICATE_KEY },
        { "interface='a.b',interface='a.c'", MATCH_E_DUPLICATE_KEY },
        { "member='a',member='b'", MATCH_E_DUPLICATE_KEY },
        { "destination='a.b',destination='a.c'", MATCH_E_DUPLICATE_KEY },
        { "path='/foo',path_namespace='/foo'", MATCH_E_DUPLICATE_KEY },
        { "path_namespace='/foo',path='/foo'", MATCH_E_DUPLICATE_KEY },
        { "path='/a',path='/a'", MATCH_E_DUPLICATE_KEY },
        { "arg0='foo',arg0='bar'", MATCH_E_DUPLICATE_KEY },
        { "arg3='foo',arg3='bar'", MATCH_E_DUPLICATE_KEY },
        { "arg30='foo',arg30='bar'", MATCH_E_DUPLICATE_KEY },
        { "arg0='foo',arg0path='/bar'", MATCH_E_DUPLICATE_KEY },
        { "arg0namespace='a.b',arg0='a'", MATCH_E_DUPLICATE_KEY },
        { "arg3='a',arg0x3='b'", MATCH_E_DUPLICATE_KEY },
        { "type='signal '", MATCH_E_BAD_TYPE },
        { " type = 'signal' ", MATCH_E_BAD_TYPE },      /* value whitespace is kept */
        { "type='signal' ", MATCH_E_BAD_TYPE },
        { "type= 'signal'", MATCH_E_BAD_TYPE },
        { "type='Signal'", MATCH_E_BAD_TYPE },
        { "type=''", MATCH_E_BAD_TYPE },
        { "type='invalid'", MATCH_E_BAD_TYPE },
        { "sender='foo'", MATCH_E_BAD_SENDER },
        { "sender=''", MATCH_E_BAD_SENDER },
        { "sender='a..b'", MATCH_E_BAD_SENDER },
        { "sender='1a.b'", MATCH_E_BAD_SENDER },
        { "interface='foo'", MATCH_E_BAD_INTERFACE },
        { "interface='a.b-c'", MATCH_E_BAD_INTERFACE },
        { "interface='a.1b'", MATCH_E_BAD_INTERFACE },
        { "member='a.b'", MATCH_E_BAD_MEMBER },
        { "member='1a'", MATCH_E_BAD_MEMBER },
        { "member=''", MATCH_E_BAD_MEMBER },
        { "path='foo'", MATCH_E_BAD_PATH },
        { "path='/foo/'", MATCH_E_BAD_PATH },
        { "path='//'", MATCH_E_BAD_PATH },
        { "path='/a-b'", MATCH_E_BAD_PATH },
        { "path=''", MATCH_E_BAD_PATH },
        { "path_namespace='/foo/'", MATCH_E_BAD_PATH },
        { "destination='foo'", MATCH_E_BAD_DESTINATION },
        { "destination=':1.'", MATCH_E_BAD_DESTINATION },
        { "destination=':1..2'", MATCH_E_BAD_DESTINATION },
        { "sender='a.b\xc3\xa4'", MATCH_E_BAD_SENDER },
        { "sender='a.'", MATCH_E_BAD_SENDER },
        { "sender='a'", MATCH_E_BAD_SENDER },
        { "eavesdrop='yes'", MATCH_E_BAD_EAVESDROP },
        { "eavesdrop=''", MATCH_E_BAD_EAVESDROP },
        { "eavesdrop='TRUE'", MATCH_E_BAD_EAVESDROP },
        { "arg='foo'", MATCH_E_ARG_NO_NUMBER },
        { "argv='foo'", MATCH_E_ARG_BAD_NUMBER },
        { "argument='foo'", MATCH_E_ARG_BAD_NUMBER },
        { "arg99999999999999999999999='foo'", MATCH_E_ARG_BAD_NUMBER },
        { "arg3junk='foo'", MATCH_E_ARG_JUNK },
        { "arg1namespace='foo'", MATCH_E_ARG_JUNK },
        { "arg0paths='/'", MATCH_E_ARG_JUNK },
        { "arg00namespace='foo'", MATCH_E_ARG_JUNK },
        { "arg300='foo'", MATCH_E_ARG_TOO_LARGE },
        { "arg64='foo'", MATCH_E_ARG_TOO_LARGE },
        { "arg64path='/'", MATCH_E_ARG_TOO_LARGE },
        { "arg-1='foo'", MATCH_E_ARG_TOO_LARGE }, /* strtoul negates */
        { "arg0namespace=''", MATCH_E_BAD_NAMESPACE },
        { "arg0namespace='foo.'", MATCH_E_BAD_NAMESPACE },
        { "arg0namespace='foo.bar.'", MATCH_E_BAD_NAMESPACE },
        { "arg0namespace='foo..'", MATCH_E_BAD_NAMESPACE },
        { "arg0namespace='.foo'", MATCH_E_BAD_NAMESPACE },
        { "arg0namespace='1foo'", MATCH_E_BAD_NAMESPACE },
        /* first error in key order */
        { "foo='x',type='bad'", MATCH_E_UNKNOWN_KEY },
        { "type='bad',foo='x'", MATCH_E_BAD_TYPE },
};

static void test_parse_table(void **state)
{
        char longrule[MATCH_RULE_LENGTH_MAX + 2];

        for (size_t i = 0; i < sizeof(parse_cases) / sizeof(*parse_cases); ++i) {
                struct match_rule *rule = NULL;
                int r = match_rule_new(&rule, parse_cases[i].text);

                if (r != parse_cases[i].expected)
                        fail_msg("rule \"%s\": got %d, expected %d", parse_cases[i].text, r, parse_cases[i].expected);
                if (r == 0)
                        assert_non_null(rule);
                else
                        assert_null(rule);
                assert_non_null(match_error_message(r ? r : MATCH_E_NOT_FOUND));
                match_rule_free(rule);
        }

        /* 1024 bytes is fine, 1025 is LimitsExceeded */
        memset(longrule, ' ', sizeof(longrule));
        memcpy(longrule, "arg0='", 6);
        longrule[MATCH_RULE_LENGTH_MAX - 1] = '\'';
        longrule[MATCH_RULE_LENGTH_MAX] = '\0';
        match_rule_free(parse_ok(longrule));
        longrule[MATCH_RULE_LENGTH_MAX] = ' ';
        longrule[MATCH_RULE_LENGTH_MAX + 1] = '\0';
        {
                struct match_rule *rule = NULL;

                assert_int_equal(match_rule_new(&rule, longrule), MATCH_E_TOO_LONG);
                assert_null(rule);
        }
        assert_string_equal(match_error_name(MATCH_E_TOO_LONG), "org.freedesktop.DBus.Error.LimitsExceeded");
        assert_string_equal(match_error_name(MATCH_E_BAD_TYPE), "org.freedesktop.DBus.Error.MatchRuleInvalid");
        assert_string_equal(match_error_name(MATCH_E_NOT_FOUND), "org.freedesktop.DBus.Error.MatchRuleNotFound");
}

/* match_rule_explain(): dbus-daemon 1.14's texts (observed), naming what is at fault */
static void test_explain(void **state)
{
        static const struct {
                const char *text;
                const char *why;
        } cases[] = {
                { "type", "Match rule has a key with no subsequent '=' character" },
                { "type='signal", "Unbalanced quotation marks in match rule" },
                { "frob='x'", "Unknown key \"frob\" in match rule" },
                { "type='signal',type='signal'", "Key type specified twice in match rule" },
                { "type='bogus'", "Invalid message type (bogus) in match rule" },
                { "sender='bad..'", "Sender name 'bad..' is invalid" },
                { "interface='bad'", "Interface name 'bad' is invalid" },
                { "member='a.b'", "Member name 'a.b' is invalid" },
                { "path='/a/'", "Path '/a/' is invalid" },
                { "path_namespace='x'", "Path 'x' is invalid" },
                { "destination='bad..'", "Destination name 'bad..' is invalid" },
                { "eavesdrop='maybe'", "eavesdrop='maybe' is invalid, it should be 'true' or 'false'" },
                { "arg='x'", "Key 'arg' in match rule starts with 'arg' but lacks an arg number. Should be 'arg0' or "
                             "'arg7' for example." },
                { "argx='x'", "Key 'argx' in match rule starts with 'arg' but could not parse arg number. Should be "
                              "'arg0' or 'arg7' for example." },
                { "arg1namespace='a'", "Key 'arg1namespace' in match rule contains junk after argument number (1). "
                                       "Only 'arg1path' (for example) or 'arg0namespace' are valid" },
                { "arg64='x'", "Key 'arg64' in match rule has arg number 64 but the maximum is 63." },
                { "arg0namespace='a.'", "arg0namespace='a.' is not a valid prefix of a bus name" },
                { "path='/a',path_namespace='/b'", "path or path_namespace specified twice in match rule" },
                { "arg0='x',arg0='y'", "Argument arg0 matched more than once in match rule" },
                { "member='a',interface='x..y'", "Interface name 'x..y' is invalid" },
        };
        char longrule[MATCH_RULE_LENGTH_MAX + 2];

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i) {
                struct match_rule *rule = NULL;
                int r = match_rule_new(&rule, cases[i].text);
                char *why;

                assert_null(rule);
                if (r <= 0)
                        fail_msg("rule \"%s\": accepted (%d)", cases[i].text, r);
                why = match_rule_explain(cases[i].text, r);
                assert_non_null(why);
                if (strcmp(why, cases[i].why))
                        fail_msg("rule \"%s\": \"%s\", expected \"%s\"", cases[i].text, why, cases[i].why);
                free(why);
        }
        memset(longrule, 'x', sizeof(longrule) - 1);
        longrule[sizeof(longrule) - 1] = '\0';
        {
                char *why = match_rule_explain(longrule, MATCH_E_TOO_LONG);

                assert_string_equal(why, "Match rule text is 1025 bytes, maximum is 1024");
                free(why);
        }
}

static void test_parse_fields(void **state)
{
        struct match_rule *rule;

        rule = parse_ok("    type='signal',  \tsender='org.freedes''ktop.DBusSender',   "
                        "interface='org.freedesktop.DBusInterface''''', \tmember='Foo',path='/bar/foo',"
                        "destination=':452345.34'''''");
        assert_int_equal(rule->type, MATCH_TYPE_SIGNAL);
        assert_string_equal(rule->sender, "org.freedesktop.DBusSender");
        assert_string_equal(rule->interface, "org.freedesktop.DBusInterface");
        assert_string_equal(rule->member, "Foo");
        assert_string_equal(rule->path, "/bar/foo");
        assert_false(rule->path_is_namespace);
        assert_string_equal(rule->destination, ":452345.34");
        assert_false(rule->eavesdrop);
        assert_int_equal(rule->n_args, 0);
        match_rule_free(rule);

        rule = parse_ok("arg1='a',arg0path='/b/',arg0x2='c',arg63='z'");
        assert_int_equal(rule->type, MATCH_TYPE_ANY);
        assert_null(rule->sender);
        assert_int_equal(rule->n_args, 4);
        assert_int_equal(rule->args[0].index, 0);
        assert_int_equal(rule->args[0].kind, MATCH_ARG_PATH);
        assert_string_equal(rule->args[0].value, "/b/");
        assert_int_equal(rule->args[0].len, 3);
        assert_int_equal(rule->args[1].index, 1);
        assert_int_equal(rule->args[1].kind, MATCH_ARG_STRING);
        assert_int_equal(rule->args[2].index, 2);
        assert_string_equal(rule->args[2].value, "c");
        assert_int_equal(rule->args[3].index, 63);
        match_rule_free(rule);

        rule = parse_ok("path_namespace='/a',arg0namespace='x.y',eavesdrop=true");
        assert_true(rule->path_is_namespace);
        assert_string_equal(rule->path, "/a");
        assert_true(rule->eavesdrop);
        assert_int_equal(rule->args[0].kind, MATCH_ARG_NAMESPACE);
        match_rule_free(rule);

        assert_null(match_rule_free(NULL));
}

struct quote_case {
        const char *text;
        const char *arg0;
};

static void test_quoting(void **state)
{
        static const struct quote_case cases[] = {
                { "arg0=foo", "foo" },
                { "arg0='foo'", "foo" },
                { "arg0=''", "" },
                { "arg0=", "" },
                { "arg0=,", "" },
                { "arg0='a,b'", "a,b" },                /* quoted comma */
                { "arg0=a'b'c", "abc" },                /* quotes anywhere */
                { "arg0='it'\\''s'", "it's" },          /* the shell idiom */
                { "arg0=\\'", "'" },                    /* escaped apostrophe */
                { "arg0=\\a", "\\a" },                  /* other backslashes are literal */
                { "arg0='\\'", "\\" },                  /* inside quotes too */
                { "arg0='\\\\'", "\\\\" },
                { "arg0=a\\", "a\\" },                  /* trailing backslash */
                { "arg0=\\\\", "\\\\" },
                { "arg0='  spaced  '", "  spaced  " },
                { "arg0= x ", " x " },                  /* value whitespace is kept */
                { "arg0=a b,type=signal", "a b" },
                { "arg0='\"'", "\"" },
                { "arg0='=='", "==" },
                { "arg0='\xc3\xa4'", "\xc3\xa4" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i) {
                struct match_rule *rule = parse_ok(cases[i].text);

                assert_true(rule->n_args >= 1);
                if (strcmp(rule->args[0].value, cases[i].arg0) != 0)
                        fail_msg("rule \"%s\": arg0 \"%s\", expected \"%s\"", cases[i].text,
                                 rule->args[0].value, cases[i].arg0);
                match_rule_free(rule);
        }
}

struct string_case {
        const char *text;
        const char *normal;
};

static void test_to_string_and_equal(void **state)
{
        static const struct string_case cases[] = {
                { "", "" },
                { "eavesdrop=false", "" },
                { "arg2=c,sender=a.b,eavesdrop=true,type=error,path_namespace=/x,arg0namespace=n,member=M,"
                  "interface=i.j,destination=:1.2,arg1path=/p/",
                  "type='error',interface='i.j',member='M',path_namespace='/x',sender='a.b',destination=':1.2',"
                  "eavesdrop='true',arg0namespace='n',arg1path='/p/',arg2='c'" },
                { "arg0='it'\\''s'", "arg0='it'\\''s'" },
                { "arg0=\\", "arg0='\\'" },
                { "arg0x10=a", "arg16='a'" },
                { "path='/'", "path='/'" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i) {
                struct match_rule *a = parse_ok(cases[i].text), *b;
                char *s = NULL;

                assert_int_equal(match_rule_to_string(a, &s), 0);
                assert_string_equal(s, cases[i].normal);
                b = parse_ok(s);
                assert_true(match_rule_equal(a, b));
                assert_true(match_rule_equal(b, a));
                free(s);
                match_rule_free(b);
                match_rule_free(a);
        }

        /* inequality on every key */
        {
                static const char *const distinct[] = {
                        "", "type=signal", "type=error", "sender=a.b", "sender=a.c", "interface=a.b",
                        "member=a", "path=/a", "path_namespace=/a", "destination=a.b", "eavesdrop=true",
                        "arg0=a", "arg0=b", "arg1=a", "arg0path=a", "arg0namespace=a", "arg0=a,arg1=b",
                        "arg0=a,arg2=b", "arg0=ab",
                };
                struct match_rule *rules[sizeof(distinct) / sizeof(*distinct)];
                size_t n = sizeof(distinct) / sizeof(*distinct);

                for (size_t i = 0; i < n; ++i)
                        rules[i] = parse_ok(distinct[i]);
                for (size_t i = 0; i < n; ++i)
                        for (size_t j = 0; j < n; ++j)
                                if (match_rule_equal(rules[i], rules[j]) != (i == j))
                                        fail_msg("\"%s\" vs \"%s\"", distinct[i], distinct[j]);
                for (size_t i = 0; i < n; ++i)
                        match_rule_free(rules[i]);
        }
}

static bool matches(const char *text, const struct match_filter *f)
{
        struct match_rule *rule = parse_ok(text);
        bool r = match_rule_matches(rule, f);

        match_rule_free(rule);
        return r;
}

static const char *const sender_names[] = { ":1.7", "org.example.Service", "org.example.Other" };
static const char *const dest_names[] = { ":1.9", "org.example.Dest" };

static void base_signal(struct match_filter *f)
{
        memset(f, 0, sizeof(*f));
        f->type = MATCH_TYPE_SIGNAL;
        f->sender_names = sender_names;
        f->n_sender_names = 3;
        f->interface = "org.example.Iface";
        f->member = "Changed";
        f->path = "/org/example/obj";
}

static void test_matching(void **state)
{
        struct match_filter f;

        base_signal(&f);
        assert_true(matches("", &f));
        assert_true(matches("type='signal'", &f));
        assert_false(matches("type='method_call'", &f));
        assert_true(matches("interface='org.example.Iface'", &f));
        assert_false(matches("interface='org.example.Other'", &f));
        assert_true(matches("member='Changed'", &f));
        assert_false(matches("member='changed'", &f));
        /* sender: unique name or any name it is primary owner of */
        assert_true(matches("sender=':1.7'", &f));
        assert_true(matches("sender='org.example.Service'", &f));
        assert_true(matches("sender='org.example.Other'", &f));
        assert_false(matches("sender=':1.8'", &f));
        assert_false(matches("sender='org.example'", &f));
        /* path */
        assert_true(matches("path='/org/example/obj'", &f));
        assert_false(matches("path='/org/example'", &f));
        assert_false(matches("path='/org/example/obj/sub'", &f));
        /* path_namespace: on '/' boundaries; "/" contains all */
        assert_true(matches("path_namespace='/'", &f));
        assert_true(matches("path_namespace='/org'", &f));
        assert_true(matches("path_namespace='/org/example'", &f));
        assert_true(matches("path_namespace='/org/example/obj'", &f));
        assert_false(matches("path_namespace='/org/exam'", &f));
        assert_false(matches("path_namespace='/org/example/obj/sub'", &f));
        assert_false(matches("path_namespace='/or'", &f));
        /* combined: all keys must match */
        assert_true(matches("type=signal,sender=org.example.Service,interface=org.example.Iface,member=Changed,"
                            "path=/org/example/obj", &f));
        assert_false(matches("type=signal,sender=org.example.Service,interface=org.example.Iface,member=Changed,"
                             "path=/org/example/other", &f));

        /* missing headers never match a key */
        f.interface = NULL;
        f.member = NULL;
        f.path = NULL;
        assert_false(matches("interface='org.example.Iface'", &f));
        assert_false(matches("member='Changed'", &f));
        assert_false(matches("path='/'", &f));
        assert_false(matches("path_namespace='/'", &f));
        assert_true(matches("type='signal'", &f));

        /* the driver as sender */
        {
                static const char *const driver[] = { "org.freedesktop.DBus" };

                f.sender_names = driver;
                f.n_sender_names = 1;
                assert_true(matches("sender='org.freedesktop.DBus'", &f));
                assert_false(matches("sender=':1.7'", &f));
        }
}

static void test_matching_destination(void **state)
{
        struct match_filter f;

        base_signal(&f);
        /* broadcast: plain rules match, destination= rules never */
        assert_true(matches("member='Changed'", &f));
        assert_true(matches("member='Changed',eavesdrop='true'", &f));
        assert_false(matches("destination=':1.9'", &f));
        assert_false(matches("destination=':1.9',eavesdrop='true'", &f));

        /* unicast to :1.9 (which owns org.example.Dest) */
        f.type = MATCH_TYPE_METHOD_CALL;
        f.destination = "org.example.Dest";
        f.destination_names = dest_names;
        f.n_destination_names = 2;
        assert_false(matches("", &f));                                 /* not for non-eavesdroppers */
        assert_false(matches("destination=':1.9'", &f));               /* even naming the recipient */
        assert_true(matches("eavesdrop='true'", &f));
        assert_true(matches("destination=':1.9',eavesdrop='true'", &f));
        assert_true(matches("destination='org.example.Dest',eavesdrop='true'", &f));
        assert_false(matches("destination=':1.10',eavesdrop='true'", &f));
        assert_false(matches("destination='org.example.Dest',eavesdrop='false'", &f));

        /* recipient unknown (driver, activation): the destination string counts */
        f.destination_names = NULL;
        f.n_destination_names = 0;
        assert_true(matches("destination='org.example.Dest',eavesdrop='true'", &f));
        assert_false(matches("destination=':1.9',eavesdrop='true'", &f));
}

static void test_matching_args(void **state)
{
        struct match_filter f;

        base_signal(&f);
        f.args[0].value = "org.example.Name";
        f.args[1].value = "/aa/bb/";
        f.args[2].value = "/aa/bb";
        f.args[2].is_path = true;
        f.args[4].value = "";
        f.args[63].value = "last";

        /* argN: strings only, exact */
        assert_true(matches("arg0='org.example.Name'", &f));
        assert_false(matches("arg0='org.example'", &f));
        assert_false(matches("arg0='org.example.Name2'", &f));
        assert_true(matches("arg1='/aa/bb/'", &f));
        assert_false(matches("arg2='/aa/bb'", &f));                    /* object path: not for argN */
        assert_false(matches("arg3=''", &f));                          /* absent / not a string */
        assert_true(matches("arg4=''", &f));
        assert_false(matches("arg4='x'", &f));
        assert_true(matches("arg63='last'", &f));
        assert_true(matches("arg0='org.example.Name',arg63='last'", &f));
        assert_false(matches("arg0='org.example.Name',arg62=''", &f));

        /* argNpath, the spec's examples: equal, or prefix ending in '/' either way */
        assert_true(matches("arg1path='/aa/bb/'", &f));
        assert_true(matches("arg1path='/'", &f));
        assert_true(matches("arg1path='/aa/'", &f));
        assert_true(matches("arg1path='/aa/bb/cc'", &f));              /* actual is a '/' prefix */
        assert_true(matches("arg1path='/aa/bb/cc/'", &f));
        assert_false(matches("arg1path='/aa/b'", &f));
        assert_false(matches("arg1path='/aa'", &f));                   /* prefix without '/' */
        assert_false(matches("arg1path='/aa/bb'", &f));                /* shorter, no trailing '/' */
        /* object path arguments work for argNpath */
        assert_true(matches("arg2path='/aa/bb'", &f));
        assert_true(matches("arg2path='/aa/'", &f));
        assert_true(matches("arg2path='/'", &f));
        assert_false(matches("arg2path='/aa/bb/'", &f));               /* actual has no trailing '/' */
        assert_false(matches("arg2path='/aa/bb/cc'", &f));
        assert_false(matches("arg2path='/aa/b'", &f));
        assert_false(matches("arg3path='/'", &f));
        assert_false(matches("arg4path='/'", &f));                     /* empty actual */
        assert_true(matches("arg4path=''", &f));

        /* arg0namespace: equal, or followed by '.' */
        assert_true(matches("arg0namespace='org'", &f));
        assert_true(matches("arg0namespace='org.example'", &f));
        assert_true(matches("arg0namespace='org.example.Name'", &f));
        assert_false(matches("arg0namespace='org.exam'", &f));
        assert_false(matches("arg0namespace='org.example.Name.Sub'", &f));
        assert_false(matches("arg0namespace='com'", &f));
        f.args[0].is_path = true;
        f.args[0].value = "/org";
        assert_false(matches("arg0namespace='org'", &f));              /* strings only */
        assert_false(matches("arg0='/org'", &f));
        assert_true(matches("arg0path='/org'", &f));
}

/*
 * Registry
 */

struct conn {
        struct match_owner owner;
        int id;
        int hits;
};

static int count_fn(struct match_owner *owner, void *userdata)
{
        struct conn *c = (struct conn *)(void *)((char *)owner - offsetof(struct conn, owner));

        ++c->hits;
        ++*(int *)userdata;
        return 0;
}

static int stop_fn(struct match_owner *owner, void *userdata)
{
        ++*(int *)userdata;
        return 42;
}

static void add(struct match_registry *r, struct conn *c, const char *text)
{
        assert_int_equal(match_registry_add(r, &c->owner, parse_ok(text)), 0);
}

static int remove_rule(struct match_registry *r, struct conn *c, const char *text)
{
        struct match_rule *rule = parse_ok(text);
        int res = match_registry_remove(r, &c->owner, rule);

        match_rule_free(rule);
        return res;
}

static int lookup(struct match_registry *r, const struct match_filter *f, struct conn *conns, size_t n,
                  struct match_owner *skip)
{
        int total = 0;

        for (size_t i = 0; i < n; ++i)
                conns[i].hits = 0;
        assert_int_equal(match_registry_lookup(r, f, skip, count_fn, &total), 0);
        for (size_t i = 0; i < n; ++i)
                assert_true(conns[i].hits <= 1);
        return total;
}

static void test_registry(void **state)
{
        struct match_registry reg;
        struct conn c[3];
        struct match_filter f;
        int n;

        match_registry_init(&reg);
        for (int i = 0; i < 3; ++i) {
                match_owner_init(&c[i].owner);
                c[i].id = i;
        }
        base_signal(&f);

        /* several matching rules of one owner: reported once */
        add(&reg, &c[0], "member='Changed'");
        add(&reg, &c[0], "interface='org.example.Iface'");
        add(&reg, &c[0], "type='signal'");
        add(&reg, &c[0], "path_namespace='/org'");
        add(&reg, &c[1], "member='Other'");
        add(&reg, &c[2], "sender='org.example.Other',member='Changed'");
        assert_int_equal(reg.n_rules, 6);
        assert_int_equal(c[0].owner.n_rules, 4);
        n = lookup(&reg, &f, c, 3, NULL);
        assert_int_equal(n, 2);
        assert_int_equal(c[0].hits, 1);
        assert_int_equal(c[1].hits, 0);
        assert_int_equal(c[2].hits, 1);

        /* skip: the addressed recipient is not reported */
        n = lookup(&reg, &f, c, 3, &c[2].owner);
        assert_int_equal(n, 1);
        assert_int_equal(c[2].hits, 0);

        /* a callback can stop the walk */
        n = 0;
        assert_int_equal(match_registry_lookup(&reg, &f, NULL, stop_fn, &n), 42);
        assert_int_equal(n, 1);

        /* RemoveMatch: one of several equal rules at a time */
        add(&reg, &c[1], "member='Changed'");
        add(&reg, &c[1], "  member ='Changed'");
        assert_int_equal(c[1].owner.n_rules, 3);
        assert_int_equal(lookup(&reg, &f, c, 3, NULL), 3);
        assert_int_equal(remove_rule(&reg, &c[1], "member=Changed"), 0);
        assert_int_equal(c[1].owner.n_rules, 2);
        assert_int_equal(lookup(&reg, &f, c, 3, NULL), 3);
        assert_int_equal(remove_rule(&reg, &c[1], "member='Changed',eavesdrop='false'"), 0);
        assert_int_equal(lookup(&reg, &f, c, 3, NULL), 2);
        assert_int_equal(c[1].hits, 0);
        assert_int_equal(remove_rule(&reg, &c[1], "member='Changed'"), MATCH_E_NOT_FOUND);
        /* only the owner's own rules */
        assert_int_equal(remove_rule(&reg, &c[1], "type='signal'"), MATCH_E_NOT_FOUND);
        assert_int_equal(remove_rule(&reg, &c[1], "member='Changed',type='signal'"), MATCH_E_NOT_FOUND);
        assert_int_equal(remove_rule(&reg, &c[1], "member='Other'"), 0);
        assert_int_equal(c[1].owner.n_rules, 0);

        /* remove everything of an owner */
        match_registry_remove_all(&reg, &c[0].owner);
        assert_int_equal(c[0].owner.n_rules, 0);
        assert_int_equal(lookup(&reg, &f, c, 3, NULL), 1);
        assert_int_equal(reg.n_rules, 1);
        for (int i = 0; i < 3; ++i) {
                match_registry_remove_all(&reg, &c[i].owner);
                match_owner_deinit(&c[i].owner);
        }
        assert_int_equal(reg.n_rules, 0);
        match_registry_deinit(&reg);
}

/*
 * Randomized: random rules over a small vocabulary (so that they do match
 * sometimes), random messages; the index must report exactly the owners a
 * linear scan with match_rule_matches() finds.
 */
#define R_OWNERS 64
#define R_RULES 3000

static const char *const v_names[] = { ":1.1", ":1.2", ":1.3", "a.b", "a.c", "org.freedesktop.DBus" };
static const char *const v_ifaces[] = { "a.b", "a.c", "org.x.Y" };
static const char *const v_members[] = { "A", "B", "Changed" };
static const char *const v_paths[] = { "/", "/a", "/a/b", "/a/b/c", "/b", "/ab" };
static const char *const v_args[] = { "", "a", "a.b", "a.b.c", "a.c", "/", "/a", "/a/", "/a/b", "/a/b/", "x" };
static const char *const v_types[] = { "signal", "method_call", "method_return", "error" };

#define PICK(_seed, _v) ((_v)[rand_r(_seed) % (sizeof(_v) / sizeof(*(_v)))])

static void random_rule_text(unsigned int *seed, char *buf, size_t size)
{
        size_t n = 0;
        const char *sep = "";

#define ADD(...) do { \
                n += (size_t)snprintf(buf + n, size - n, "%s", sep); \
                n += (size_t)snprintf(buf + n, size - n, __VA_ARGS__); \
                sep = ","; \
        } while (0)

        buf[0] = '\0';
        if (rand_r(seed) % 2)
                ADD("type=%s", PICK(seed, v_types));
        if (rand_r(seed) % 3 == 0)
                ADD("sender=%s", PICK(seed, v_names));
        if (rand_r(seed) % 3 == 0)
                ADD("interface=%s", PICK(seed, v_ifaces));
        if (rand_r(seed) % 3 == 0)
                ADD("member=%s", PICK(seed, v_members));
        switch (rand_r(seed) % 4) {
        case 0:
                ADD("path=%s", PICK(seed, v_paths));
                break;
        case 1:
                ADD("path_namespace=%s", PICK(seed, v_paths));
                break;
        }
        if (rand_r(seed) % 6 == 0)
                ADD("destination=%s", PICK(seed, v_names));
        if (rand_r(seed) % 4 == 0)
                ADD("eavesdrop=true");
        switch (rand_r(seed) % 6) {
        case 0:
                ADD("arg0='%s'", PICK(seed, v_args));
                break;
        case 1:
                ADD("arg0path='%s'", PICK(seed, v_args));
                break;
        case 2:
                ADD("arg0namespace=%s", PICK(seed, v_ifaces));
                break;
        }
        if (rand_r(seed) % 5 == 0)
                ADD("arg%d%s='%s'", 1 + rand_r(seed) % 3, rand_r(seed) % 2 ? "path" : "", PICK(seed, v_args));
#undef ADD
}

static void random_filter(unsigned int *seed, struct match_filter *f, const char **names)
{
        size_t n_names;

        memset(f, 0, sizeof(*f));
        f->type = 1 + (unsigned int)rand_r(seed) % 4;
        n_names = 1 + (size_t)rand_r(seed) % 3;
        for (size_t i = 0; i < n_names; ++i)
                names[i] = PICK(seed, v_names);
        f->sender_names = names;
        f->n_sender_names = n_names;
        if (rand_r(seed) % 4)
                f->interface = PICK(seed, v_ifaces);
        if (rand_r(seed) % 4)
                f->member = PICK(seed, v_members);
        if (rand_r(seed) % 4)
                f->path = PICK(seed, v_paths);
        if (rand_r(seed) % 3 == 0) {
                f->destination = PICK(seed, v_names);
                if (rand_r(seed) % 2) {
                        names[3] = f->destination;
                        names[4] = PICK(seed, v_names);
                        f->destination_names = &names[3];
                        f->n_destination_names = 2;
                }
        }
        for (size_t i = 0; i < 4; ++i)
                if (rand_r(seed) % 4) {
                        f->args[i].value = PICK(seed, v_args);
                        f->args[i].is_path = f->args[i].value[0] == '/' && rand_r(seed) % 2;
                }
}

static void test_index_vs_linear(void **state)
{
        static struct conn conns[R_OWNERS];
        static struct match_rule *rules[R_RULES];
        static bool expected[R_OWNERS];
        struct match_registry reg;
        unsigned int seed = 12345;
        size_t n_rules = 0, total_hits = 0;
        char text[512];

        match_registry_init(&reg);
        for (int i = 0; i < R_OWNERS; ++i) {
                match_owner_init(&conns[i].owner);
                conns[i].id = i;
        }

        for (int round = 0; round < 30; ++round) {
                /* grow, and sometimes shrink, the rule set */
                for (int i = 0; i < R_RULES / 20 && n_rules < R_RULES; ++i) {
                        struct conn *c = &conns[rand_r(&seed) % R_OWNERS];
                        struct match_rule *rule;

                        random_rule_text(&seed, text, sizeof(text));
                        assert_int_equal(match_rule_new(&rule, text), 0);
                        assert_int_equal(match_registry_add(&reg, &c->owner, rule), 0);
                        rules[n_rules++] = rule;
                }
                for (int i = 0; i < 20 && n_rules > 0; ++i) {
                        size_t k = (size_t)rand_r(&seed) % n_rules;
                        struct match_rule *copy;
                        struct match_owner *owner = rules[k]->owner;
                        char *s;

                        /* remove through RemoveMatch: the round trip of its text */
                        assert_int_equal(match_rule_to_string(rules[k], &s), 0);
                        assert_int_equal(match_rule_new(&copy, s), 0);
                        free(s);
                        /* the owner's newest equal rule goes, maybe a twin of rules[k] */
                        {
                                struct match_rule *newest = NULL;
                                struct list_node *n;

                                for (n = owner->rules.prev; n != &owner->rules; n = n->prev) {
                                        struct match_rule *m = list_entry(n, struct match_rule, owner_link);

                                        if (match_rule_equal(m, copy)) {
                                                newest = m;
                                                break;
                                        }
                                }
                                assert_non_null(newest);
                                for (size_t j = 0; j < n_rules; ++j)
                                        if (rules[j] == newest) {
                                                rules[j] = rules[--n_rules];
                                                break;
                                        }
                        }
                        assert_int_equal(match_registry_remove(&reg, owner, copy), 0);
                        match_rule_free(copy);
                }
                assert_int_equal(reg.n_rules, n_rules);

                for (int q = 0; q < 300; ++q) {
                        struct match_filter f;
                        const char *names[5];
                        struct match_owner *skip = NULL;
                        int total = 0;

                        random_filter(&seed, &f, names);
                        if (rand_r(&seed) % 4 == 0)
                                skip = &conns[rand_r(&seed) % R_OWNERS].owner;
                        memset(expected, 0, sizeof(expected));
                        for (size_t k = 0; k < n_rules; ++k)
                                if (match_rule_matches(rules[k], &f)) {
                                        struct conn *c = (struct conn *)(void *)((char *)rules[k]->owner -
                                                                                 offsetof(struct conn, owner));

                                        if (&c->owner != skip)
                                                expected[c->id] = true;
                                }
                        for (int i = 0; i < R_OWNERS; ++i)
                                conns[i].hits = 0;
                        assert_int_equal(match_registry_lookup(&reg, &f, skip, count_fn, &total), 0);
                        for (int i = 0; i < R_OWNERS; ++i) {
                                if (conns[i].hits != (int)expected[i])
                                        fail_msg("round %d query %d owner %d: index %d, linear %d", round, q, i,
                                                 conns[i].hits, expected[i]);
                                total_hits += (size_t)conns[i].hits;
                        }
                }
        }
        /* the vocabulary is small enough that matches happen a lot */
        assert_true(total_hits > 1000);

        for (int i = 0; i < R_OWNERS; ++i) {
                match_registry_remove_all(&reg, &conns[i].owner);
                match_owner_deinit(&conns[i].owner);
        }
        match_registry_deinit(&reg);
}

static const char *const error_symbols[_MATCH_E_N] = {
        [0] = "0",
        [MATCH_E_TOO_LONG] = "MATCH_E_TOO_LONG",
        [MATCH_E_NO_EQUALS] = "MATCH_E_NO_EQUALS",
        [MATCH_E_NO_KEY] = "MATCH_E_NO_KEY",
        [MATCH_E_UNBALANCED_QUOTES] = "MATCH_E_UNBALANCED_QUOTES",
        [MATCH_E_UNKNOWN_KEY] = "MATCH_E_UNKNOWN_KEY",
        [MATCH_E_DUPLICATE_KEY] = "MATCH_E_DUPLICATE_KEY",
        [MATCH_E_BAD_TYPE] = "MATCH_E_BAD_TYPE",
        [MATCH_E_BAD_SENDER] = "MATCH_E_BAD_SENDER",
        [MATCH_E_BAD_INTERFACE] = "MATCH_E_BAD_INTERFACE",
        [MATCH_E_BAD_MEMBER] = "MATCH_E_BAD_MEMBER",
        [MATCH_E_BAD_PATH] = "MATCH_E_BAD_PATH",
        [MATCH_E_BAD_DESTINATION] = "MATCH_E_BAD_DESTINATION",
        [MATCH_E_BAD_EAVESDROP] = "MATCH_E_BAD_EAVESDROP",
        [MATCH_E_ARG_NO_NUMBER] = "MATCH_E_ARG_NO_NUMBER",
        [MATCH_E_ARG_BAD_NUMBER] = "MATCH_E_ARG_BAD_NUMBER",
        [MATCH_E_ARG_JUNK] = "MATCH_E_ARG_JUNK",
        [MATCH_E_ARG_TOO_LARGE] = "MATCH_E_ARG_TOO_LARGE",
        [MATCH_E_BAD_NAMESPACE] = "MATCH_E_BAD_NAMESPACE",
        [MATCH_E_NOT_FOUND] = "MATCH_E_NOT_FOUND",
};

/*
 * One line per parser case: the expected result's symbol, a tab, and the
 * rule text in hex (rules contain tabs and newlines).
 */
static void print_parse_table(void)
{
        for (size_t i = 0; i < sizeof(parse_cases) / sizeof(*parse_cases); ++i) {
                printf("%s\t", error_symbols[parse_cases[i].expected]);
                for (const char *p = parse_cases[i].text; *p; ++p)
                        printf("%02x", (unsigned char)*p);
                printf("\n");
        }
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_table),
                cmocka_unit_test(test_explain),
                cmocka_unit_test(test_parse_fields),
                cmocka_unit_test(test_quoting),
                cmocka_unit_test(test_to_string_and_equal),
                cmocka_unit_test(test_matching),
                cmocka_unit_test(test_matching_destination),
                cmocka_unit_test(test_matching_args),
                cmocka_unit_test(test_registry),
                cmocka_unit_test(test_index_vs_linear),
        };

        if (argc > 1 && strcmp(argv[1], "--print-parse-table") == 0) {
                print_parse_table();
                return 0;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
