"""Bottom-up grouping: assemble people from confidence maps and Part Affinity Fields."""

from posekit.grouping.paf_grouping import (
    GroupingConfig,
    assemble_people,
    find_peaks,
    group_people,
    limb_scores,
    match_limb,
)

__all__ = [
    "GroupingConfig", "assemble_people", "find_peaks", "group_people", "limb_scores", "match_limb",
]
