"""Bottom-up grouping: assemble people from confidence maps and Part Affinity Fields."""

from posekit.grouping.paf_grouping import (
    GroupingConfig,
    find_peaks,
    group_people,
    limb_scores,
    match_limb,
)

__all__ = ["GroupingConfig", "find_peaks", "group_people", "limb_scores", "match_limb"]
