"""Motion source: IIO accelerometer and gyroscope (sysfs reader in :mod:`.iio`, maths in :mod:`.attitude`)."""
