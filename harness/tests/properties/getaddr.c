/* Looks a name up with the C library's getaddrinfo (IPv4 only) and prints
   each address; exit 2 when the lookup fails. Built with musl-gcc by the
   libc property test, so the real musl stub walks the search list. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    struct addrinfo hints, *res, *p;
    char buf[INET_ADDRSTRLEN];
    if (argc != 2) return 64;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(argv[1], NULL, &hints, &res) != 0) return 2;
    for (p = res; p; p = p->ai_next) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)p->ai_addr)->sin_addr, buf, sizeof buf);
        printf("%s\n", buf);
    }
    freeaddrinfo(res);
    return 0;
}
