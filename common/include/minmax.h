/* SPDX-License-Identifier: BSD-3-Clause */
/* minmax.h: MIN and MAX that evaluate each argument once. */

#ifndef NBDX_MINMAX_H
#define NBDX_MINMAX_H

#undef MIN
#define MIN(a, b)                                                              \
    ({                                                                         \
        __typeof__(a) min_a_ = (a);                                            \
        __typeof__(b) min_b_ = (b);                                            \
        min_a_ < min_b_ ? min_a_ : min_b_;                                     \
    })
#undef MAX
#define MAX(a, b)                                                              \
    ({                                                                         \
        __typeof__(a) max_a_ = (a);                                            \
        __typeof__(b) max_b_ = (b);                                            \
        max_a_ > max_b_ ? max_a_ : max_b_;                                     \
    })

#define IS_POWER_OF_2(x) ((x) != 0 && ((x) & ((x)-1)) == 0)
#define ROUND_UP(i, n) (((i) + (n)-1) & -((__typeof__(i))(n)))
#define ROUND_DOWN(i, n) ((i) & -((__typeof__(i))(n)))

#endif /* NBDX_MINMAX_H */
