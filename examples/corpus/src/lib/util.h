#ifndef UTIL_H
#define UTIL_H
#include <stddef.h>
size_t util_strlcpy(char *dst, const char *src, size_t size);
int util_parse_port(const char *s);
#endif
