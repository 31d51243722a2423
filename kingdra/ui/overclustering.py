"""The run's over-clustering in the app's words: is it on, how many fine clusters, why.

The pages ask this object instead of testing ``config.overcluster > 1`` themselves, so the
user's k (``n_clusters``) stays the only k they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from kingdra.merge import fine_note


@dataclass(frozen=True)
class FineClusters:
    """The user's ``n_clusters`` and each member's ``overcluster * n_clusters`` fine clusters.

    True when the run over-clusters (``overcluster > 1``).

    >>> fine = FineClusters(10, 2)
    >>> bool(fine), fine.n_fine, fine.note
    (True, 20, 'one per fine cluster: 2 for each of the k = 10 clusters')
    >>> bool(FineClusters(10, 1)), FineClusters(10, 1).note
    (False, '')
    """

    n_clusters: int
    overcluster: int

    @classmethod
    def of(cls, config) -> FineClusters:
        """From a :class:`kingdra.config.KingdraConfig`."""
        return cls(int(config.n_clusters), int(config.overcluster))

    def __bool__(self) -> bool:
        return self.overcluster > 1

    @property
    def n_fine(self) -> int:
        """Output classes of every member, and the mini-clusters Algorithm 1 looks for."""
        return self.overcluster * self.n_clusters

    @property
    def note(self) -> str:
        """Why Algorithm 1 wants ``n_fine`` mini-clusters, or "" (:func:`kingdra.merge.fine_note`)."""
        return fine_note(self.n_clusters, self.overcluster)
