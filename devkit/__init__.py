"""Development kit: the WMS and Bitrix24 simulators, the offline demo company, the local HTTP server the simulators
and the tests' fakes are built on."""
