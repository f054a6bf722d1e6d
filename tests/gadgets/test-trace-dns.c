/*
 * test-trace-dns.c — the trace_dns gadget through the harness: the test is
 * its own DNS client and server on loopback (IPv4 and IPv6, a UDP port of
 * its own, given as the session's port): an A query answered NoError with
 * one record, an AAAA query answered NXDomain. Each query and response
 * comes out once with id, name, type, rcode, answers and tuple; the
 * responses carry the latency since their query.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gadget-test.h"
#include "harness.h"
#include "testutil.h"

#define YAML(params) "t:\n  gadget: trace_dns\n  operators:\n    trace_dns: {" params "}\n"

static const char *const plugins[] = { TEST_PLUGIN_DIR "/trace_dns.so", NULL };

static int udp_bound(int family) {
    struct sockaddr_storage ss;
    unsigned len;
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    gt_loopback(family, 0, &ss, &len);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &ss, len), 0);
    return fd;
}

/* A DNS message: header, one question for name/type, and (response with
 * answers = 1) one A record. Returns its length. */
static size_t message(uint8_t *buf, uint16_t id, bool response, unsigned rcode, const char *name,
                      uint16_t type, unsigned answers) {
    size_t n = 12;
    uint16_t flags = response ? (uint16_t) (0x8180 | rcode) : 0x0100;

    memset(buf, 0, 12);
    buf[0] = (uint8_t) (id >> 8), buf[1] = (uint8_t) id;
    buf[2] = (uint8_t) (flags >> 8), buf[3] = (uint8_t) flags;
    buf[5] = 1;
    buf[7] = (uint8_t) answers;
    for (const char *label = name; *label;) {
        const char *dot = strchr(label, '.');
        size_t l = dot ? (size_t) (dot - label) : strlen(label);
        buf[n++] = (uint8_t) l;
        memcpy(buf + n, label, l);
        n += l;
        label += l + (dot ? 1 : 0);
    }
    buf[n++] = 0;
    buf[n++] = 0, buf[n++] = (uint8_t) type;
    buf[n++] = 0, buf[n++] = 1; /* IN */
    if (answers) {
        const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1 };
        memcpy(buf + n, rr, sizeof(rr));
        n += sizeof(rr);
    }
    return n;
}

/* Client sends a query, server answers it. */
static void exchange(int client, int server, uint16_t id, const char *name, uint16_t type,
                     unsigned rcode, unsigned answers) {
    uint8_t q[512], a[512], got[512];
    struct sockaddr_storage from, to;
    socklen_t fl = sizeof(from), tl = sizeof(to);
    size_t qn = message(q, id, false, 0, name, type, 0);
    size_t an = message(a, id, true, rcode, name, type, answers);

    ck_assert_int_eq(getsockname(server, (struct sockaddr *) &to, &tl), 0);
    ck_assert_int_eq(sendto(client, q, qn, 0, (struct sockaddr *) &to, tl), (ssize_t) qn);
    ck_assert_int_eq(recvfrom(server, got, sizeof(got), 0, (struct sockaddr *) &from, &fl),
                     (ssize_t) qn);
    usleep(2000); /* a latency well above zero */
    ck_assert_int_eq(sendto(server, a, an, 0, (struct sockaddr *) &from, fl), (ssize_t) an);
    ck_assert_int_eq(recv(client, got, sizeof(got), 0), (ssize_t) an);
}

static void expect(struct harness *h, const char *want_head, const char *tuple, bool response) {
    char line[2048], want[1024];
    const char *needles[] = { want_head, tuple, NULL };
    uint64_t lat;

    ck_assert_msg(gt_wait_line(h, needles, GT_WAIT_MS, line, sizeof(line)), "no '%s' in:\n%s",
                  want_head, harness_output(h));
    lat = gt_field_u64(line, "latency_ns");
    if (response)
        ck_assert_msg(lat >= 1000000 && lat < 1000000000, "latency %llu",
                      (unsigned long long) lat);
    else
        ck_assert_uint_eq(lat, 0);
    snprintf(want, sizeof(want), "%s latency_ns=%llu %s netns=%llu ifname=\"lo\"", want_head,
             (unsigned long long) lat, tuple, (unsigned long long) gt_field_u64(line, "netns"));
    ck_assert_str_eq(strstr(line, "type="), want);
    ck_assert_uint_eq(gt_count_lines(h, needles), 1);
}

static void run(int family) {
    struct harness *h = harness_new(plugins);
    int server = udp_bound(family), client = udp_bound(family);
    int sport = gt_port_of(server), cport = gt_port_of(client);
    const char *fam = family == AF_INET ? "ipv4" : "ipv6";
    const char *addr = family == AF_INET ? "127.0.0.1" : "::1";
    char yaml[256], up[256], down[256];

    snprintf(yaml, sizeof(yaml), YAML("port: %d"), sport);
    gt_start(h, yaml);
    exchange(client, server, 0x1234, "ophost-test.example", 1, 0, 1);
    exchange(client, server, 0x4321, "missing.ophost-test.example", 28, 3, 0);
    snprintf(up, sizeof(up), "family=\"%s\" saddr=\"%s\" sport=%d daddr=\"%s\" dport=%d", fam,
             addr, cport, addr, sport);
    snprintf(down, sizeof(down), "family=\"%s\" saddr=\"%s\" sport=%d daddr=\"%s\" dport=%d", fam,
             addr, sport, addr, cport);
    expect(h, "type=\"query\" id=4660 name=\"ophost-test.example\" qtype=\"A\" rcode=- answers=0",
           up, false);
    expect(h, "type=\"response\" id=4660 name=\"ophost-test.example\" qtype=\"A\" "
              "rcode=\"NoError\" answers=1", down, true);
    expect(h, "type=\"query\" id=17185 name=\"missing.ophost-test.example\" qtype=\"AAAA\" "
              "rcode=- answers=0", up, false);
    expect(h, "type=\"response\" id=17185 name=\"missing.ophost-test.example\" qtype=\"AAAA\" "
              "rcode=\"NXDomain\" answers=0", down, true);
    gt_stop(h);
    /* Four packets, each once (loopback passes them twice). */
    ck_assert_str_eq(harness_values(h, "id"), "4660 4660 17185 17185");
    close(client);
    close(server);
    harness_free(h);
}

START_TEST(test_ipv4) {
    run(AF_INET);
}
END_TEST

START_TEST(test_ipv6) {
    run(AF_INET6);
}
END_TEST

START_TEST(test_bad_params) {
    struct harness *h = harness_new(plugins);

    harness_assert_fails_with(h, YAML("port: 0"), NULL, NULL, 0,
                              "param 'port': '0' is below the minimum 1");
    harness_free(h);
}
END_TEST

int main(void) {
    const TTest *const always[] = { test_bad_params, NULL };
    const TTest *const mech[] = { test_ipv4, test_ipv6, NULL };

    return gt_main("trace_dns", plugins, YAML("port: 53"), NULL, always, mech);
}
