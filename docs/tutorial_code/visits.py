# docs/tutorial_code/visits.py
"""Example 2: a small table of clinic visits, numbers and text mixed, with gaps."""

import csv
import random

rng = random.Random(7)
with open("visits.csv", "w", newline="") as handle:
    table = csv.writer(handle)
    table.writerow(["age", "smoker", "region", "bmi", "readmitted"])
    for visit in range(120):
        age = rng.randint(30, 80)
        smoker = rng.choice(["yes", "no"])
        region = rng.choice(["north", "south", "east", "west"])
        bmi = round(rng.gauss(27, 4), 1)
        risk = (age - 55) / 10 + (smoker == "yes") + (bmi - 27) / 4 + rng.gauss(0, 1)
        readmitted = "yes" if risk > 0.5 else "no"
        # Real tables have gaps: an empty cell where nothing was written down.
        table.writerow(
            [
                age,
                smoker,
                "" if visit % 20 == 7 else region,
                "" if visit % 15 == 3 else bmi,
                readmitted,
            ]
        )
print("wrote visits.csv: 120 visits")
