# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'order_options.ui'
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
from PySide6.QtWidgets import (QApplication, QCheckBox, QDateTimeEdit, QFormLayout,
    QLabel, QLineEdit, QSizePolicy, QWidget)

class Ui_OrderOptions(object):
    def setupUi(self, OrderOptions):
        if not OrderOptions.objectName():
            OrderOptions.setObjectName(u"OrderOptions")
        self.form = QFormLayout(OrderOptions)
        self.form.setObjectName(u"form")
        self.form.setContentsMargins(0, 0, 0, 0)
        self.name = QLabel(OrderOptions)
        self.name.setObjectName(u"name")
        self.name.setTextFormat(Qt.TextFormat.PlainText)

        self.form.setWidget(0, QFormLayout.ItemRole.SpanningRole, self.name)

        self.start = QCheckBox(OrderOptions)
        self.start.setObjectName(u"start")

        self.form.setWidget(1, QFormLayout.ItemRole.SpanningRole, self.start)

        self.when_label = QLabel(OrderOptions)
        self.when_label.setObjectName(u"when_label")

        self.form.setWidget(2, QFormLayout.ItemRole.LabelRole, self.when_label)

        self.when = QDateTimeEdit(OrderOptions)
        self.when.setObjectName(u"when")
        self.when.setEnabled(False)
        self.when.setCalendarPopup(True)

        self.form.setWidget(2, QFormLayout.ItemRole.FieldRole, self.when)

        self.email_label = QLabel(OrderOptions)
        self.email_label.setObjectName(u"email_label")

        self.form.setWidget(3, QFormLayout.ItemRole.LabelRole, self.email_label)

        self.email = QLineEdit(OrderOptions)
        self.email.setObjectName(u"email")

        self.form.setWidget(3, QFormLayout.ItemRole.FieldRole, self.email)

#if QT_CONFIG(shortcut)
        self.when_label.setBuddy(self.when)
        self.email_label.setBuddy(self.email)
#endif // QT_CONFIG(shortcut)

        self.retranslateUi(OrderOptions)

        QMetaObject.connectSlotsByName(OrderOptions)
    # setupUi

    def retranslateUi(self, OrderOptions):
        self.start.setText(QCoreApplication.translate("OrderOptions", u"Start the plan on a date (for plans that start by order date)", None))
        self.when_label.setText(QCoreApplication.translate("OrderOptions", u"Starts", None))
        self.when.setDisplayFormat(QCoreApplication.translate("OrderOptions", u"yyyy-MM-dd HH:mm 'UTC'", None))
        self.email_label.setText(QCoreApplication.translate("OrderOptions", u"Customer e-mail", None))
        self.email.setPlaceholderText(QCoreApplication.translate("OrderOptions", u"optional: MicroESIM mails the eSIM to this address", None))
        pass
    # retranslateUi

