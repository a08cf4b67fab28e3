/*
 * spf2/spf_lib_version.h -- the libspf2 version this API reproduces.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef INC_SPF_VERSION
#define INC_SPF_VERSION

#define SPF_LIB_VERSION_MAJOR 1
#define SPF_LIB_VERSION_MINOR 2
#define SPF_LIB_VERSION_PATCH 10

#endif
