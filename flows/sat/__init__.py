"""The SAT side: stored e.firma and CSD, bulk-download sync, issuing CFDI 4.0
invoices and Pagos 2.0 complements through a PAC, cancellations and invoice PDFs.
"""
