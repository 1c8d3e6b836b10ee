"""皖事通办 Bozhou sub-platform (亳州分平台): receives every item's status for the applicant's progress view."""
