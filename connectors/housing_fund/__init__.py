"""住房公积金管理中心 (housing provident fund centre): item 14, provident fund withdrawal, over REST."""
