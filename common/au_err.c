#include "au_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *au_strerror(int code)
{
    switch (code) {
#define AU__ERR_MSG(name, val, msg)                                            \
    case val:                                                                  \
        return msg;
        AU_ERRNO_MAP(AU__ERR_MSG)
#undef AU__ERR_MSG
    }
    return "unknown error";
}

const char *au_err_name(int code)
{
    switch (code) {
#define AU__ERR_NAME(name, val, msg)                                           \
    case val:                                                                  \
        return "AU_E" #name;
        AU_ERRNO_MAP(AU__ERR_NAME)
#undef AU__ERR_NAME
    }
    return "AU_EUNKNOWN";
}

int au_error_set(au_error_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}
