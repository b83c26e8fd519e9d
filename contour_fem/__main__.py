"""``python -m contour_fem …`` is ``contour-fem …``.

Under MPI: ``mpirun -n 4 python -m mpi4py -m contour_fem sweep …``.
"""

import sys

from contour_fem.cli import main

sys.exit(main())
