# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'order_dialog.ui'
##
## Created by: Qt User Interface Compiler version 6.11.3
##
## WARNING! All changes made in this file will be lost when recompiling UI file!
################################################################################

from PySide6.QtCore import (QCoreApplication, QDate, QDateTime, QLocale,
    QMetaObject, QObject, QPoint, QRect,
    QSize, QTime, QUrl, Qt)
from PySide6.QtGui import (QBrush, QColor, QConicalGradient, QCursor,
    QFont, QFontDatabase, QGradient, QIcon,
    QImage, QKeySequence, QLinearGradient, QPainter,
    QPalette, QPixmap, QRadialGradient, QTransform)
from PySide6.QtWidgets import (QAbstractButton, QApplication, QDialog, QDialogButtonBox,
    QFormLayout, QLabel, QLineEdit, QSizePolicy,
    QSpinBox, QVBoxLayout, QWidget)

class Ui_OrderDialog(object):
    def setupUi(self, OrderDialog):
        if not OrderDialog.objectName():
            OrderDialog.setObjectName(u"OrderDialog")
        OrderDialog.setMinimumSize(QSize(460, 0))
        self.layout = QVBoxLayout(OrderDialog)
        self.layout.setObjectName(u"layout")
        self.plan = QLabel(OrderDialog)
        self.plan.setObjectName(u"plan")
        self.plan.setTextFormat(Qt.TextFormat.PlainText)
        self.plan.setWordWrap(True)

        self.layout.addWidget(self.plan)

        self.form = QFormLayout()
        self.form.setObjectName(u"form")
        self.quantity_label = QLabel(OrderDialog)
        self.quantity_label.setObjectName(u"quantity_label")

        self.form.setWidget(0, QFormLayout.ItemRole.LabelRole, self.quantity_label)

        self.quantity = QSpinBox(OrderDialog)
        self.quantity.setObjectName(u"quantity")
        self.quantity.setMinimum(1)
        self.quantity.setMaximum(50)

        self.form.setWidget(0, QFormLayout.ItemRole.FieldRole, self.quantity)

        self.reference_label = QLabel(OrderDialog)
        self.reference_label.setObjectName(u"reference_label")

        self.form.setWidget(1, QFormLayout.ItemRole.LabelRole, self.reference_label)

        self.reference = QLineEdit(OrderDialog)
        self.reference.setObjectName(u"reference")
        self.reference.setMaxLength(64)

        self.form.setWidget(1, QFormLayout.ItemRole.FieldRole, self.reference)

        self.note_label = QLabel(OrderDialog)
        self.note_label.setObjectName(u"note_label")

        self.form.setWidget(2, QFormLayout.ItemRole.LabelRole, self.note_label)

        self.note = QLineEdit(OrderDialog)
        self.note.setObjectName(u"note")
        self.note.setMaxLength(500)

        self.form.setWidget(2, QFormLayout.ItemRole.FieldRole, self.note)

        self.unit_price_label = QLabel(OrderDialog)
        self.unit_price_label.setObjectName(u"unit_price_label")

        self.form.setWidget(3, QFormLayout.ItemRole.LabelRole, self.unit_price_label)

        self.unit_price = QLabel(OrderDialog)
        self.unit_price.setObjectName(u"unit_price")
        self.unit_price.setTextFormat(Qt.TextFormat.PlainText)

        self.form.setWidget(3, QFormLayout.ItemRole.FieldRole, self.unit_price)

        self.total_label = QLabel(OrderDialog)
        self.total_label.setObjectName(u"total_label")

        self.form.setWidget(4, QFormLayout.ItemRole.LabelRole, self.total_label)

        self.total = QLabel(OrderDialog)
        self.total.setObjectName(u"total")
        self.total.setTextFormat(Qt.TextFormat.PlainText)

        self.form.setWidget(4, QFormLayout.ItemRole.FieldRole, self.total)

        self.sell_label = QLabel(OrderDialog)
        self.sell_label.setObjectName(u"sell_label")

        self.form.setWidget(5, QFormLayout.ItemRole.LabelRole, self.sell_label)

        self.sell = QLabel(OrderDialog)
        self.sell.setObjectName(u"sell")
        self.sell.setTextFormat(Qt.TextFormat.PlainText)
        self.sell.setWordWrap(True)

        self.form.setWidget(5, QFormLayout.ItemRole.FieldRole, self.sell)

        self.balance_label = QLabel(OrderDialog)
        self.balance_label.setObjectName(u"balance_label")

        self.form.setWidget(6, QFormLayout.ItemRole.LabelRole, self.balance_label)

        self.balance = QLabel(OrderDialog)
        self.balance.setObjectName(u"balance")
        self.balance.setTextFormat(Qt.TextFormat.PlainText)
        self.balance.setWordWrap(True)

        self.form.setWidget(6, QFormLayout.ItemRole.FieldRole, self.balance)


        self.layout.addLayout(self.form)

        self.options = QWidget(OrderDialog)
        self.options.setObjectName(u"options")

        self.layout.addWidget(self.options)

        self.charge = QLabel(OrderDialog)
        self.charge.setObjectName(u"charge")
        self.charge.setTextFormat(Qt.TextFormat.PlainText)
        self.charge.setWordWrap(True)

        self.layout.addWidget(self.charge)

        self.problem = QLabel(OrderDialog)
        self.problem.setObjectName(u"problem")
        self.problem.setStyleSheet(u"color: #b00020;")
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        self.problem.setWordWrap(True)

        self.layout.addWidget(self.problem)

        self.buttons = QDialogButtonBox(OrderDialog)
        self.buttons.setObjectName(u"buttons")
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Cancel|QDialogButtonBox.StandardButton.Ok)

        self.layout.addWidget(self.buttons)

#if QT_CONFIG(shortcut)
        self.quantity_label.setBuddy(self.quantity)
        self.reference_label.setBuddy(self.reference)
        self.note_label.setBuddy(self.note)
#endif // QT_CONFIG(shortcut)

        self.retranslateUi(OrderDialog)

        QMetaObject.connectSlotsByName(OrderDialog)
    # setupUi

    def retranslateUi(self, OrderDialog):
        OrderDialog.setWindowTitle(QCoreApplication.translate("OrderDialog", u"Order eSIMs", None))
        self.quantity_label.setText(QCoreApplication.translate("OrderDialog", u"&Quantity", None))
        self.reference_label.setText(QCoreApplication.translate("OrderDialog", u"&Reference", None))
        self.reference.setPlaceholderText(QCoreApplication.translate("OrderDialog", u"optional: your ticket or booking number (made for you if empty)", None))
        self.note_label.setText(QCoreApplication.translate("OrderDialog", u"Customer &note", None))
        self.note.setPlaceholderText(QCoreApplication.translate("OrderDialog", u"optional: e.g. the customer's name; kept on each eSIM, searchable in Fleet", None))
        self.unit_price_label.setText(QCoreApplication.translate("OrderDialog", u"Unit price", None))
        self.total_label.setText(QCoreApplication.translate("OrderDialog", u"Total", None))
        self.sell_label.setText(QCoreApplication.translate("OrderDialog", u"Customer pays", None))
        self.balance_label.setText(QCoreApplication.translate("OrderDialog", u"Balance", None))
    # retranslateUi

