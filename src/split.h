/* split.h: the stratified train/validation split and the splitmix64 generator it uses.
 * The algorithm is specified exactly so that a Python script can reproduce it bit for bit:
 *
 *   state = (uint64)seed
 *   next(): state += 0x9E3779B97F4A7C15; z = state;
 *           z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
 *           return z ^ (z >> 31)                                  (all arithmetic mod 2^64)
 *   for class c = 0 .. num_classes-1, in order, with ONE rng stream across all classes:
 *       a = indices i with labels[i] == c, ascending; n = len(a)
 *       for i = n-1 down to 1: j = next() % (i+1); swap(a[i], a[j])      (Fisher-Yates)
 *       n_val = floor(n * val_fraction + 0.5)                             (IEEE double)
 *       a[0 .. n_val) -> validation, a[n_val .. n) -> training
 *   finally both index lists are sorted ascending. */
#ifndef CLTRAIN_SPLIT_H
#define CLTRAIN_SPLIT_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: advances *state and returns the next 64-bit value. */
uint64_t ct_splitmix64_next(uint64_t *state);

/* Splits indices 0..n-1 (n < 2^32) by label. labels[i] must be < num_classes (1..256);
 * val_fraction in [0, 1]. On success *train_idx / *val_idx are malloc'd (caller frees; never
 * NULL, even when empty) and sorted ascending. Errors: CT_ERR_USAGE for bad arguments,
 * CT_ERR_INPUT for a label out of range, CT_ERR_NOMEM. */
int ct_split_stratified(const uint8_t *labels, size_t n, int num_classes, double val_fraction, uint64_t seed,
                        uint32_t **train_idx, size_t *n_train, uint32_t **val_idx, size_t *n_val);

#endif
