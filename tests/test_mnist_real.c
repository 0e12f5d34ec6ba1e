/* test_mnist_real.c: the real MNIST files, when tools/fetch-mnist.sh has put them in the source
 * folder's data/mnist: sizes, MD5 sums of the published files and the first labels. Without
 * them the test exits 77, which CTest reports as skipped (not passed). */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "idx.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TEST_SKIPPED 77

/* The real data, when tools/fetch-mnist.sh has put it in ../data/mnist. */
int main(void)
{
    const char *dir = "../data/mnist";
    if (access(dir, R_OK) != 0) { /* CTest reports the test as skipped (SKIP_RETURN_CODE), not passed */
        printf("SKIP real MNIST: %s not present (run tools/fetch-mnist.sh data/mnist in the source folder)\n", dir);
        return TEST_SKIPPED;
    }
    ct_mnist m;
    int rc = ct_mnist_load(dir, 1, &m);
    TU_CHECK(rc == CT_OK && m.n == 60000, "real train: %s", ct_last_error());
    if (rc == CT_OK) {
        TU_CHECK(strcmp(m.images_md5, "6bbc9ace898e44ae57da46a324031adb") == 0, "train images md5 %s", m.images_md5);
        TU_CHECK(strcmp(m.labels_md5, "a25bea736e30d166cdddb491f175f624") == 0, "train labels md5 %s", m.labels_md5);
        TU_CHECK(m.labels[0] == 5 && m.labels[1] == 0 && m.labels[2] == 4, "first train labels 5 0 4");
        printf("ok   real MNIST train: %zu images, md5 %s / %s\n", m.n, m.images_md5, m.labels_md5);
    }
    ct_mnist_free(&m);
    rc = ct_mnist_load(dir, 0, &m);
    TU_CHECK(rc == CT_OK && m.n == 10000, "real test: %s", ct_last_error());
    if (rc == CT_OK) {
        TU_CHECK(strcmp(m.images_md5, "2646ac647ad5339dbf082846283269ea") == 0, "t10k images md5 %s", m.images_md5);
        TU_CHECK(strcmp(m.labels_md5, "27ae3e4e09519cfbb04c329615203637") == 0, "t10k labels md5 %s", m.labels_md5);
        TU_CHECK(m.labels[0] == 7 && m.labels[1] == 2 && m.labels[2] == 1, "first test labels 7 2 1");
        printf("ok   real MNIST test: %zu images, md5 %s / %s\n", m.n, m.images_md5, m.labels_md5);
    }
    ct_mnist_free(&m);
    return tu_finish();
}

