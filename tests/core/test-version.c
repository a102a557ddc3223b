/*
 * The version macros of the headers, clcnn_version() of the library and the project version given
 * by meson (-DCLCNN_PROJECT_VERSION) are one version.
 */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

START_TEST(test_version_matches)
{
	const char *v = clcnn_version();
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, CLCNN_VERSION_STRING);
	ck_assert_str_eq(v, CLCNN_PROJECT_VERSION);
	char parts[64];
	snprintf(parts, sizeof parts, "%d.%d.%d", CLCNN_VERSION_MAJOR, CLCNN_VERSION_MINOR, CLCNN_VERSION_PATCH);
	ck_assert_str_eq(parts, v);
	/* the numbers are usable in #if, which is what they are for */
#if CLCNN_VERSION_MAJOR * 10000 + CLCNN_VERSION_MINOR * 100 + CLCNN_VERSION_PATCH < 200
#error "the version macros say older than 0.2.0, the first release with them"
#endif
}
END_TEST

int main(void)
{
	Suite *s = suite_create("version");
	TCase *tc = tcase_create("version");
	tcase_add_test(tc, test_version_matches);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
