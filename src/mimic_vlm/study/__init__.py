"""`mimic study`: the paper's findings F1-F7 as controlled, paired experiments on one model (`run.study`)."""
